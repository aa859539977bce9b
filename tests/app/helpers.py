"""Small helpers shared by the app tests."""

from io import StringIO
from wsgiref.util import setup_testing_defaults

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


def wsgi_get(path: str) -> tuple[str, bytes]:
    """GET `path` from the app's WSGI entry point (config/wsgi.py), as gunicorn calls it; Django's
    test client starts further in, after what config/wsgi.py answers itself (/healthz, static files)."""
    from config.wsgi import application

    environ: dict = {"PATH_INFO": path, "HTTP_HOST": "localhost"}
    setup_testing_defaults(environ)
    status = []
    response = application(environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        body = b"".join(response)
    finally:
        getattr(response, "close", lambda: None)()
    return status[0], body
