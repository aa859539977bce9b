"""Small helpers shared by the app tests."""
from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError

from forecast.models import Location


def run_command(name: str, *args) -> tuple[int, str]:
    """Run a management command in-process; returns (exit status, output)."""
    out = StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=out)
    except CommandError as exc:
        return 1, out.getvalue() + f"\nCommandError: {exc}"
    return 0, out.getvalue()


def add_location(user, name="Hamburg", latitude="53.55073", longitude="9.99302") -> Location:
    return Location.objects.create(user=user, name=name, latitude=latitude, longitude=longitude)
