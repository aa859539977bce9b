"""The four jobs: idempotent, one bad location never stops a run, failures reported with context."""

from datetime import timedelta

import pytest
import sentry_sdk
from django.utils import timezone

from forecast.models import Prediction, WeatherForecast
from tests.app.helpers import add_location, run_command
from tests.harness.app import manage
from tests.harness.http_fake import FakeHTTPServer, Response
from tests.harness.open_meteo_fake import CALM, stormy_weather
from tests.harness.sentry_receiver import tags

BROKEN = Response(500, {"error": True, "reason": "Internal Server Error"})


def test_collect_stores_each_hour_once_and_updates_on_rerun(location, open_meteo):
    status, output = run_command("collect_weather_data")
    assert status == 0, output
    assert WeatherForecast.objects.filter(location=location).count() == 72
    open_meteo.weather = stormy_weather
    status, output = run_command("collect_weather_data")
    assert status == 0, output
    assert WeatherForecast.objects.filter(location=location).count() == 72
    assert WeatherForecast.objects.filter(location=location, humidity=96.0).count() == 72
    assert "72 hours stored" in output and "1 ok, 0 failed" in output


def test_collect_stores_the_time_zone_open_meteo_names(location, user, open_meteo):
    tokyo = add_location(user, name="Tokyo", latitude="35.68950", longitude="139.69171")
    run_command("collect_weather_data")
    location.refresh_from_db()
    tokyo.refresh_from_db()
    assert (location.timezone, tokyo.timezone) == ("Europe/Berlin", "Asia/Tokyo")


def test_a_failed_request_is_reported_and_the_other_batches_are_processed(sentry, location, user, open_meteo, settings):
    settings.OPEN_METEO_BATCH_SIZE, settings.OPEN_METEO_CONCURRENCY = 1, 1  # one location per request, in order
    second = add_location(user)
    open_meteo.script(*[BROKEN] * 4)  # the first request: the try and all three retries fail
    status, output = run_command("collect_weather_data")
    assert status == 1
    assert f"location {location.pk}" in output and "answered 500" in output
    assert "1 of 2 location(s) failed" in output
    assert not WeatherForecast.objects.filter(location=location).exists()
    assert WeatherForecast.objects.filter(location=second).count() == 72

    event = sentry.wait_for(lambda e: "exception" in e)
    assert event["exception"]["values"][-1]["type"] == "WeatherAPIError"
    context = event["contexts"]["weather_api"]
    assert context["status_code"] == 500
    assert context["url"].endswith("/v1/forecast")
    assert "Internal Server Error" in context["response_excerpt"]
    # The guide's tags: the place's name (what people filter by), its id, and which scheduled task.
    assert tags(event)["location"] == location.name == "Berlin"
    assert tags(event)["location_id"] == str(location.pk)
    assert tags(event)["cron_job"] == "collect_weather_data"
    assert any(c["category"] == "weather" for c in event["breadcrumbs"]["values"])


def test_a_failed_batch_is_one_event_for_all_its_locations(sentry, location, user, open_meteo):
    others = [add_location(user, name=f"Place {n}", latitude=f"{40 + n}.00000") for n in range(3)]
    open_meteo.script(*[BROKEN] * 4)
    status, output = run_command("collect_weather_data")
    assert status == 1 and "4 of 4 location(s) failed" in output
    assert all(f"location {place.pk} {place.name}: FAILED" in output for place in others)
    sentry_sdk.flush(timeout=5)
    (event,) = sentry.events()
    assert event["contexts"]["weather_api"]["location_count"] == 4
    assert sorted(event["contexts"]["weather_api"]["location_ids"]) == sorted([location.pk, *(p.pk for p in others)])
    assert "location" not in tags(event)


def test_a_malformed_answer_fails_its_batch_and_is_reported_once(sentry, location, user, open_meteo):
    second = add_location(user)
    open_meteo.script(Response(200, "<html>maintenance</html>", {"Content-Type": "text/html"}))
    status, output = run_command("collect_weather_data")
    assert status == 1
    assert f"location {second.pk}" in output and "malformed JSON" in output
    event = sentry.wait_for(lambda e: "exception" in e)
    assert "maintenance" in event["contexts"]["weather_api"]["response_excerpt"]
    assert WeatherForecast.objects.count() == 0


def test_one_unusable_location_in_an_answer_fails_alone(sentry, location, user, open_meteo):
    second = add_location(user)

    def bad_in_berlin(time, latitude, longitude):
        return {**CALM, "pressure_msl": "n/a"} if latitude == 52.52 else CALM

    open_meteo.weather = bad_in_berlin
    status, output = run_command("collect_weather_data")
    assert status == 1
    assert f"location {location.pk}" in output and "hourly.pressure_msl" in output
    assert not WeatherForecast.objects.filter(location=location).exists()
    assert WeatherForecast.objects.filter(location=second).count() == 72
    event = sentry.wait_for(lambda e: "exception" in e)
    assert tags(event)["location"] == "Berlin" and tags(event)["location_id"] == str(location.pk)


def test_a_failure_midway_leaves_no_half_written_rows(location, open_meteo, monkeypatch):
    run_command("collect_weather_data")
    from forecast import rules

    real = rules.predict

    def fail_on_sinusitis(hours, profile, prediction_type):
        if prediction_type == "SINUSITIS":
            raise RuntimeError("disk full")
        return real(hours, profile, prediction_type)

    monkeypatch.setattr(rules, "predict", fail_on_sinusitis)
    status, output = run_command("generate_predictions")
    assert status == 1 and "FAILED disk full" in output
    # The migraine prediction made before the failure was rolled back with it.
    assert not Prediction.objects.exists()


def test_a_job_run_is_a_transaction_with_a_span_per_request(sentry, location, user, settings):
    settings.OPEN_METEO_BATCH_SIZE = 2
    for n in range(4):
        add_location(user, name=f"Place {n}", latitude=f"{40 + n}.00000")
    assert run_command("collect_weather_data")[0] == 0
    transaction = sentry.wait_for(lambda t: t["transaction"] == "collect_weather_data", kind="transaction")
    assert transaction["contexts"]["trace"]["op"] == "job"
    assert transaction["contexts"]["trace"]["status"] == "ok"
    # Three requests from the worker threads, each with its HTTP span, and one upsert per batch: not a span per row.
    fetches = [s for s in transaction["spans"] if s["op"] == "weather.fetch"]
    assert sorted(s["data"]["locations"] for s in fetches) == [1, 2, 2]
    assert len([s for s in transaction["spans"] if s["description"] == "GET Open-Meteo forecast"]) == 3
    upserts = [s for s in transaction["spans"] if s["op"] == "db.upsert"]
    assert sorted(s["data"]["rows"] for s in upserts) == [72, 144, 144]
    assert tags(transaction)["job"] == tags(transaction)["cron_job"] == "collect_weather_data"


def test_dry_run_stores_nothing(location):
    status, output = run_command("collect_weather_data", "--dry-run")
    assert status == 0 and "dry run" in output
    assert not WeatherForecast.objects.exists()


def test_location_id_selects_and_unknown_ids_are_refused(location, user):
    other = add_location(user)
    status, output = run_command("collect_weather_data", "--location-id", str(other.pk))
    assert status == 0 and "1 location(s)" in output
    assert not WeatherForecast.objects.filter(location=location).exists()
    status, output = run_command("collect_weather_data", "--location-id", "999999")
    assert status == 1 and "No location with id 999999" in output


def test_cleanup_removes_rows_past_retention(location, settings):
    settings.DATA_RETENTION_DAYS = 7
    old = timezone.now() - timedelta(days=30)
    WeatherForecast.objects.create(
        location=location, target_time=old, temperature=1, humidity=50, pressure_msl=1000, fetched_at=old
    )
    status, output = run_command("collect_weather_data", "--cleanup")
    assert status == 0
    assert not WeatherForecast.objects.filter(target_time=old).exists()


class HeartbeatFake(FakeHTTPServer):
    """GlitchTip's heartbeat endpoint: POST, no auth, snake_case answer."""

    def route(self, request):
        if request.method != "POST":
            return Response(405, "Method not allowed", {"Content-Type": "text/html", "Allow": "POST"})
        return Response(200, {"is_up": True, "start_check": timezone.now().isoformat(), "reason": None})


@pytest.fixture
def heartbeat(settings):
    server = HeartbeatFake().start()
    path = "/api/0/organizations/forecast/heartbeat_check/28b884fe-1389-443e-8ec5-47ff347d0cc0/"
    settings.HEARTBEAT_URLS = {**settings.HEARTBEAT_URLS, "collect_weather_data": server.url + path}
    yield server
    server.stop()


def test_heartbeat_is_pinged_after_a_run(location, heartbeat):
    assert run_command("collect_weather_data")[0] == 0
    assert [r.method for r in heartbeat.requests] == ["POST"]


def test_heartbeat_is_not_pinged_when_every_location_failed(location, heartbeat, open_meteo):
    open_meteo.script(*[BROKEN] * 4)
    assert run_command("collect_weather_data")[0] == 1
    assert heartbeat.requests == []


def test_exit_status_and_progress_of_the_real_command(transactional_db, location, user, open_meteo, test_database_url):
    add_location(user)
    open_meteo.script(*[BROKEN] * 4)
    result = manage(
        "collect_weather_data",
        env={"DATABASE_URL": test_database_url, "OPEN_METEO_BATCH_SIZE": "1", "OPEN_METEO_CONCURRENCY": "1"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert len([line for line in result.stdout.splitlines() if "batch" in line]) == 2  # progress per batch
    assert "1 ok, 1 failed" in result.stdout and "1 of 2 location(s) failed" in result.stderr
    assert WeatherForecast.objects.values("location").distinct().count() == 1
