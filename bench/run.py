"""Benchmarks, measured side by side in one run on a throwaway Postgres: `python3 bench/run.py`.

1. Storing a location's 72 forecast hours: one bulk upsert (INSERT ... ON CONFLICT, what
   forecast/weather.py does) against one update_or_create per hour (the obvious alternative).
2. The privacy scrubber (config/sentry.py) on a realistic error event, against building the
   event alone, to show what it adds to each event sent.
Prints the median of several rounds and the ratio.
"""
from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "app"), str(REPO)]

from tests.harness.postgres import PostgresServer  # noqa: E402

ROUNDS = 7


def median_seconds(fn, rounds=ROUNDS) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def report(title: str, name_a: str, a: float, name_b: str, b: float) -> None:
    print(f"\n{title}")
    print(f"  {name_a:<44} {a * 1000:9.2f} ms")
    print(f"  {name_b:<44} {b * 1000:9.2f} ms")
    print(f"  ratio: {b / a:.1f}x")


def bench_upsert():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from forecast.models import Location, WeatherForecast
    from forecast.weather import FIELDS

    user = get_user_model().objects.create_user(f"bench-{secrets.token_hex(3)}")
    location = Location.objects.create(user=user, name="Bench", latitude=52.5, longitude=13.4)
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    hours = [dict(temperature=10 + h % 5, humidity=60, pressure_msl=1010 - h / 10, surface_pressure=1000,
                  precipitation=0.1, cloud_cover=50, wind_speed=5) for h in range(72)]

    def bulk():
        rows = [WeatherForecast(location=location, target_time=start + timedelta(hours=i), fetched_at=timezone.now(),
                                **values) for i, values in enumerate(hours)]
        WeatherForecast.objects.bulk_create(rows, update_conflicts=True, unique_fields=["location", "target_time"],
                                            update_fields=[*FIELDS, "fetched_at"])

    def one_by_one():
        for i, values in enumerate(hours):
            WeatherForecast.objects.update_or_create(location=location, target_time=start + timedelta(hours=i),
                                                     defaults={**values, "fetched_at": timezone.now()})

    bulk()  # both measure updates of existing rows, the hourly steady state
    report("Storing 72 forecast hours for one location (update of existing rows)",
           "bulk upsert (INSERT ... ON CONFLICT)", median_seconds(bulk),
           "update_or_create per hour", median_seconds(one_by_one))


def bench_scrubber():
    from config.sentry import Scrubber, SentryConfig

    scrubber = Scrubber(SentryConfig(dsn="http://k@h/1", secret_values=("sk-live-0123456789abcdef", "s3cret-db-pw")))

    def event():
        return {
            "message": "login failed for jane@example.com with password=hunter22",
            "exception": {"values": [{"type": "WeatherAPIError", "value": "Open-Meteo forecast answered 500",
                                      "stacktrace": {"frames": [{"function": f"f{i}", "vars": {"i": str(i), "key": "x" * 40},
                                                                 "pre_context": ["line"] * 5} for i in range(20)]}}]},
            "breadcrumbs": {"values": [{"category": "weather", "message": f"fetch {i}"} for i in range(30)]},
            "contexts": {"weather_api": {"url": "https://api.open-meteo.com/v1/forecast", "status_code": 500}},
            "request": {"url": "http://localhost/locations/add/", "headers": {"User-Agent": "x"}},
        }

    batch = 200
    build = median_seconds(lambda: [event() for _ in range(batch)])
    scrub = median_seconds(lambda: [scrubber.event(event()) for _ in range(batch)])
    report(f"{batch} error events of 20 frames and 30 breadcrumbs", "building them", build,
           "building and scrubbing them", scrub)


def main():
    postgres = PostgresServer().start()
    try:
        postgres.psql("CREATE ROLE bench LOGIN PASSWORD 'bench' CREATEDB")
        postgres.psql("CREATE DATABASE bench OWNER bench")
        os.environ.update(DATABASE_URL=postgres.url("bench", "bench", "bench"), DJANGO_SETTINGS_MODULE="config.settings",
                          SENTRY_ENABLED="false")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        print(f"benchmarks on PostgreSQL (port {postgres.port}), {ROUNDS} rounds each, medians, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        bench_upsert()
        bench_scrubber()
    finally:
        from django.db import connections

        connections.close_all()
        postgres.stop()


if __name__ == "__main__":
    main()
