"""This app's jobs on the database DATABASE_URL names (PostgreSQL or SQLite), as a bench worker
(bench/worker.py) of bench/jobs.py.

    DATABASE_URL=... OPEN_METEO_FORECAST_URL=... python3 bench/jobs_app.py LOCATIONS PROTOCOL_FD

On start: migrate, make LOCATIONS places (ten per user, each at its own grid point, 0.1° apart:
the worst case for deduplication) and collect them all once (not timed), so that every timed
run updates rows as the hourly job does. Then it times the tasks bench/jobs.py asks for.
"""

from __future__ import annotations

import functools
import secrets
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "app"), str(REPO)]
STORE_LOCATIONS = 1_000


def main(count: int) -> None:
    import django
    from django.core.management import call_command

    from bench.worker import serve

    django.setup()
    call_command("migrate", verbosity=0)
    locations = _make_locations(count)
    _collect(locations)
    _columns()
    serve(
        {
            "collect": lambda size: _collect(locations[:size]),
            "collect_one_by_one": lambda size: _collect_one_by_one(locations[:size]),
            "predict": lambda size: _run("generate_predictions", locations[:size]),
            "predict_one_at_a_time": lambda size: _predict_one_at_a_time(locations[:size]),
            "store": _store,
        },
        ready={"locations": len(locations)},
    )


def _make_locations(count: int) -> list:
    from django.contrib.auth import get_user_model

    from accounts.models import HealthProfile
    from forecast.models import Location

    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-{n}-{secrets.token_hex(3)}") for n in range(-(-count // 10))]
    )
    HealthProfile.objects.bulk_create([HealthProfile(user=user) for user in users])
    return Location.objects.bulk_create(
        [
            Location(
                user=users[n // 10],
                name=f"Place {n}",
                latitude=f"{-60 + (n // 1200) / 10:.5f}",
                longitude=f"{-120 + (n % 1200) / 10:.5f}",
            )
            for n in range(count)
        ]
    )


def _run(command: str, locations: list) -> None:
    from django.core.management import call_command

    call_command(command, location_ids=[location.pk for location in locations], stdout=StringIO())


def _collect(locations: list) -> None:
    _run("collect_weather_data", locations)


def _collect_one_by_one(locations: list) -> None:
    """The way before issue 8: a request per location, one at a time, a new session for each, each
    stored on its own."""
    from django.db import transaction

    from forecast import http, open_meteo, weather

    for location in locations:
        http._sessions.clear()  # the old client built a new requests.Session for every call
        point = open_meteo.grid_point(location.latitude, location.longitude)
        (answer,) = open_meteo.fetch_forecasts([point])
        if isinstance(answer, open_meteo.WeatherAPIError):  # the old client raised it
            raise answer
        with transaction.atomic():
            weather._store([(weather.GridPoint(point, [location]), answer)])


def _predict_one_at_a_time(locations: list) -> None:
    """The way before issue 8: about seven queries per location."""
    from forecast import predictions

    for location in locations:
        predictions.generate(location)


def _store(variant: str) -> None:
    """72 hours of STORE_LOCATIONS places written with one of the upserts, into rows that exist."""
    from django.db import transaction
    from django.utils import timezone

    from forecast import forecast_upsert

    upserts = {
        "copy": forecast_upsert.upsert_by_copy,
        "executemany": forecast_upsert.upsert_by_executemany,
        "bulk_create": _upsert_by_bulk_create,
    }
    with transaction.atomic():
        upserts[variant](_columns(), timezone.now())


@functools.cache
def _columns() -> dict[str, list]:
    """The rows `_store` writes, made once, before the timed runs: the first places' coming 72 hours."""
    from django.utils import timezone

    from forecast import forecast_upsert
    from forecast.models import Location

    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    columns: dict[str, list] = {name: [] for name in forecast_upsert.COLUMNS}
    for location_id in Location.objects.order_by("pk").values_list("pk", flat=True)[:STORE_LOCATIONS]:
        for hour in range(72):
            for name, value in zip(
                columns,
                (
                    location_id,
                    start + timedelta(hours=hour),
                    10.0 + hour % 5,
                    60.0,
                    1010 - hour / 10,
                    1000.0,
                    0.1,
                    50.0,
                    5.0,
                ),
                strict=True,
            ):
                columns[name].append(value)
    return columns


def _upsert_by_bulk_create(columns: dict[str, list], fetched_at) -> None:
    """The SQLite path before issue 17: Django's bulk_create upsert, a model instance per row."""
    from forecast import forecast_upsert
    from forecast.models import WeatherForecast

    rows = [
        WeatherForecast(fetched_at=fetched_at, **dict(zip(columns, values, strict=True)))
        for values in zip(*columns.values(), strict=True)
    ]
    WeatherForecast.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["location", "target_time"],
        update_fields=[*forecast_upsert.FIELDS, "fetched_at"],
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
