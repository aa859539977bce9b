"""collect_weather_data at scale: batches, one request per grid point, a refused coordinate
isolated, a bounded number of requests in flight, reused connections, bulk upserts."""

import pytest
import sentry_sdk

from forecast import http
from forecast import open_meteo as client
from forecast.models import Location, WeatherForecast
from tests.app.helpers import add_location, run_command
from tests.app.test_settings import app_copy, manage_with  # noqa: F401 (app_copy is a fixture)
from tests.harness.http_fake import Response
from tests.harness.sentry_receiver import tags


def add_places(user, count: int, start: float = 40.0) -> list[Location]:
    """`count` places at distinct grid points (0.1° apart)."""
    return [
        add_location(user, name=f"Place {n}", latitude=f"{start + n / 10:.5f}", longitude="10.00000")
        for n in range(count)
    ]


def coordinates(request) -> list[tuple[str, str]]:
    return list(zip(request.param("latitude").split(","), request.param("longitude").split(","), strict=True))


@pytest.fixture
def fresh_sessions():
    """A new pooled session for this test, so that its connections are counted from zero."""
    http._sessions.clear()
    yield
    http._sessions.clear()


def test_locations_go_in_batches_with_a_line_each_and_a_summary(user, open_meteo, settings):
    settings.OPEN_METEO_BATCH_SIZE = 2
    places = add_places(user, 5)
    status, output = run_command("collect_weather_data")
    assert status == 0, output
    assert sorted(len(coordinates(r)) for r in open_meteo.requests) == [1, 2, 2]
    assert sorted(c for r in open_meteo.requests for c in coordinates(r)) == [
        (f"{40 + n / 10:.2f}", "10.00") for n in range(5)
    ]
    assert WeatherForecast.objects.filter(location__in=places).count() == 5 * 72
    assert len([line for line in output.splitlines() if "batch" in line]) == 3  # a line each
    assert "5 ok, 0 failed" in output  # the summary


def test_places_at_the_same_grid_point_are_asked_for_once(user, open_meteo):
    home = add_location(user, name="Home", latitude="52.52437", longitude="13.41053")
    office = add_location(user, name="Office", latitude="52.51801", longitude="13.40702")  # 0.7 km away
    other = add_location(user, name="Munich", latitude="48.13743", longitude="11.57549")
    status, output = run_command("collect_weather_data")
    assert status == 0, output
    (request,) = open_meteo.requests
    assert coordinates(request) == [("52.52", "13.41"), ("48.14", "11.58")]
    for place in (home, office, other):
        assert WeatherForecast.objects.filter(location=place).count() == 72
    assert "2 grid point(s)" in output


def test_a_refused_coordinate_is_isolated_and_the_others_are_stored(sentry, user, open_meteo, settings):
    places = add_places(user, 8)
    # Out of range: the form's validators refuse it, but rows written another way can carry it.
    bad = places[5]
    Location.objects.filter(pk=bad.pk).update(latitude="95.00000")
    status, output = run_command("collect_weather_data")
    assert status == 1
    assert f"location {bad.pk}" in output and "Latitude must be in range" in output  # Open-Meteo's reason
    # 8 refused, halves of 4 (one refused), of 2 (one refused), of 1: the bad one alone.
    assert [len(coordinates(r)) for r in open_meteo.requests] == [8, 4, 4, 2, 2, 1, 1]
    assert WeatherForecast.objects.count() == 7 * 72 and not WeatherForecast.objects.filter(location=bad).exists()
    sentry_sdk.flush(timeout=5)
    (event,) = sentry.events()
    assert tags(event)["location"] == "Place 5" and tags(event)["location_id"] == str(bad.pk)
    assert event["contexts"]["weather_api"]["status_code"] == 400


def test_a_request_refused_as_a_whole_is_not_split_down_to_every_coordinate(sentry, user, open_meteo, monkeypatch):
    places = add_places(user, 8)
    monkeypatch.setitem(client.HOURLY_FIELDS, "pressure_mls", "typo")  # a request no coordinate can fix
    status, output = run_command("collect_weather_data")
    assert status == 1 and "8 of 8 location(s) failed" in output
    # Both halves refused for the same reason: the request is at fault; no further splitting.
    assert [len(coordinates(r)) for r in open_meteo.requests] == [8, 4, 4]
    sentry_sdk.flush(timeout=5)
    (event,) = sentry.events()
    assert event["contexts"]["weather_api"]["location_count"] == 8
    assert "invalid String value pressure_mls" in event["contexts"]["weather_api"]["reason"]
    assert all(f"location {place.pk} {place.name}: FAILED" in output for place in places)


def test_server_errors_are_retried_within_a_batch(user, open_meteo):
    add_places(user, 3)
    open_meteo.script(Response(503, {"error": True, "reason": "busy"}, {"Retry-After": "0"}))
    status, output = run_command("collect_weather_data")
    assert status == 0, output
    assert [len(coordinates(r)) for r in open_meteo.requests] == [3, 3]
    assert WeatherForecast.objects.count() == 3 * 72


@pytest.mark.parametrize("concurrency", [1, 3])
def test_requests_in_flight_are_bounded(user, open_meteo, settings, concurrency):
    settings.OPEN_METEO_BATCH_SIZE, settings.OPEN_METEO_CONCURRENCY = 1, concurrency
    open_meteo.delay = 0.1
    add_places(user, 9)
    assert run_command("collect_weather_data")[0] == 0
    assert len(open_meteo.requests) == 9
    assert open_meteo.max_in_flight == concurrency


def test_connections_are_reused_across_requests(user, open_meteo, settings, fresh_sessions):
    settings.OPEN_METEO_BATCH_SIZE, settings.OPEN_METEO_CONCURRENCY = 1, 2
    add_places(user, 10)
    assert run_command("collect_weather_data")[0] == 0
    assert run_command("collect_weather_data")[0] == 0
    assert len(open_meteo.requests) == 20
    # A session per call would open 20 connections; the pooled one keeps one per request in flight.
    assert 1 <= open_meteo.connections <= 2


def test_dry_run_asks_but_stores_nothing(user, open_meteo):
    add_places(user, 3)
    status, output = run_command("collect_weather_data", "--dry-run")
    assert status == 0
    assert "dry run" in output
    assert len(open_meteo.requests) == 1 and not WeatherForecast.objects.exists()


def test_queries_do_not_grow_with_the_locations_of_a_batch(user, open_meteo, django_assert_num_queries):
    add_places(user, 1)
    # The job's lock (taken, released), the locations, and in the batch's transaction (savepoint,
    # release): the upsert (staging table, upsert from it, emptied; the COPY into it is not a query)
    # and the time zone of the new places (one UPDATE per zone; none once the zones are known).
    with django_assert_num_queries(9):
        assert run_command("collect_weather_data")[0] == 0
    add_places(user, 49, start=60.0)
    with django_assert_num_queries(9):
        assert run_command("collect_weather_data")[0] == 0
    with django_assert_num_queries(8):
        assert run_command("collect_weather_data")[0] == 0
    assert WeatherForecast.objects.count() == 50 * 72


def test_forecast_pages_keep_room_for_in_place_updates(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'forecast_weatherforecast'")
        assert cursor.fetchone()[0] == ["fillfactor=50"]


COUNT_UPSERTS = """
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from forecast.models import Location, WeatherForecast
user = User.objects.create_user("sam")
Location.objects.bulk_create([Location(user=user, name=f"P{n}", latitude=f"{-60 + n / 10:.5f}", longitude="10")
                              for n in range(150)])
before = None
for run in range(2):  # the second run updates the same rows
    with CaptureQueriesContext(connection) as queries:
        call_command("collect_weather_data")
    table = WeatherForecast._meta.db_table
    writes = [q["sql"] for q in queries if f'INTO "{table}"' in q["sql"]]
    updated = WeatherForecast.objects.filter(fetched_at__gt=before).count() if before else 0
    print(f"run {run}: {len(writes)} statements, {WeatherForecast.objects.count()} rows, {updated} updated")
    before = WeatherForecast.objects.latest("fetched_at").fetched_at
"""


def test_the_app_alone_on_sqlite_stores_a_batch_with_one_statement(app_copy, open_meteo):  # noqa: F811
    """The embedded default's upsert: one executemany of INSERT ... ON CONFLICT DO UPDATE per batch,
    no model objects and no statement per 99 rows (SQLite's limit of 999 parameters a statement);
    a second run updates every row in place."""
    env = {
        "OPEN_METEO_FORECAST_URL": f"{open_meteo.url}/v1/forecast",
        "OPEN_METEO_BACKOFF": "0",
        "OPEN_METEO_BATCH_SIZE": "100",
    }
    assert manage_with(env, "migrate", "--noinput", cwd=app_copy).returncode == 0
    result = manage_with(env, "shell", "-c", COUNT_UPSERTS, cwd=app_copy)
    assert result.returncode == 0, result.stderr
    runs = [line for line in result.stdout.splitlines() if line.startswith("run ")]
    assert runs == ["run 0: 2 statements, 10800 rows, 0 updated", "run 1: 2 statements, 10800 rows, 10800 updated"]
