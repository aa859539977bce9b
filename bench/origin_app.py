"""The origin app (the app this one replaces: github.com/alexandrosm77/migraine_forecast) collecting
the weather on SQLite, as a bench worker (bench/worker.py) of bench/jobs.py, beside this app.

    ORIGIN_PYTHON bench/origin_app.py CHECKOUT LOCATIONS PROTOCOL_FD

Run with a Python that has the origin's requirements, against its checkout, as it runs alone:
its own settings (kalliro.settings, DEBUG on) with only the database moved to a file of the
bench's (BENCH_DIR) and logging to the console, which the worker's log file takes. Its client
has Open-Meteo's address built in; the worker points it at OPEN_METEO_FORECAST_URL (the bench's
fake Open-Meteo). Nothing of the origin is kept in this repository.

On start: migrate, make LOCATIONS places at the same coordinates as this app's bench places, and
collect them once (not timed). Its collect_weather_data takes every place (it has no option to
choose), so the worker makes exactly the places a run measures.
"""

from __future__ import annotations

import os
import sys
from io import StringIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(checkout: Path, count: int) -> None:
    folder = Path(os.environ["BENCH_DIR"])
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(folder / "origin.sqlite3")}
    (folder / "bench_origin_settings.py").write_text(
        f"from kalliro.settings import *  # noqa: F403\nDATABASES = {{'default': {database!r}}}\n"
    )
    sys.path[:0] = [str(checkout), str(folder), str(REPO)]
    os.environ.update(DJANGO_SETTINGS_MODULE="bench_origin_settings", LOG_TO_FILE="false")
    os.chdir(checkout)

    import django
    from django.core.management import call_command

    from bench.worker import serve

    django.setup()
    from django.contrib.auth.models import User

    from forecast import models, weather_api  # the origin's

    weather_api.OpenMeteoClient.BASE_URL = os.environ["OPEN_METEO_FORECAST_URL"]
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench")
    models.Location.objects.bulk_create(
        [
            models.Location(
                user=user, city=f"Place {n}", latitude=-60 + (n // 1200) / 10, longitude=-120 + (n % 1200) / 10
            )
            for n in range(count)
        ]
    )

    def collect(size: int = count) -> None:
        if size != count:
            raise ValueError(f"this worker has {count} places, and the origin's job takes them all (asked: {size})")
        call_command("collect_weather_data", "--skip-cleanup", stdout=StringIO())

    collect()
    serve({"collect": collect}, ready={"locations": count})


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
