"""Forecast versus actual, and data-quality anomalies reported as warnings."""

from datetime import timedelta

from django.utils import timezone

from forecast.models import ComparisonReport, WeatherForecast
from tests.app.helpers import run_command
from tests.harness.sentry_receiver import tags


def store_past_forecasts(location, temperature, hours=6):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for back in range(1, hours + 1):
        WeatherForecast.objects.create(
            location=location,
            target_time=now - timedelta(hours=back),
            temperature=temperature,
            humidity=60,
            pressure_msl=1016,
            fetched_at=now,
        )


def test_a_12_degree_difference_is_a_warning_tagged_as_anomaly(location, sentry, open_meteo):
    open_meteo.weather = lambda t, lat, lon: {
        "temperature_2m": 10.0,
        "relative_humidity_2m": 60.0,
        "pressure_msl": 1016.0,
        "surface_pressure": 1010.0,
        "precipitation": 0.0,
        "cloud_cover": 50.0,
        "wind_speed_10m": 5.0,
    }
    store_past_forecasts(location, temperature=22.0)
    status, output = run_command("compare_forecasts")
    assert status == 0, output
    report = ComparisonReport.objects.get(location=location)
    assert report.hours_compared == 6 and report.max_abs_temperature_diff == 12.0
    event = sentry.wait_for(lambda e: tags(e).get("data_quality") == "anomaly")
    assert event["level"] == "warning"
    assert event["message"] == "Forecast anomaly at Berlin: temperature off by 12.0 °C"
    assert event["contexts"]["data_quality"]["worst"]["diff"] == 12.0
    assert "exception" not in event
    assert (tags(event)["location"], tags(event)["location_id"]) == ("Berlin", str(location.pk))
    assert tags(event)["cron_job"] == "compare_forecasts"

    # Re-running for the same period updates the report and does not report again.
    sentry.reset()
    assert run_command("compare_forecasts")[0] == 0
    assert ComparisonReport.objects.count() == 1
    import sentry_sdk

    sentry_sdk.flush(timeout=5)
    assert sentry.events() == []


def test_small_differences_are_not_anomalies(location, sentry):
    store_past_forecasts(location, temperature=13.0)
    status, output = run_command("compare_forecasts")
    assert status == 0 and "0 anomalies" in output
    assert ComparisonReport.objects.get().anomalies == []
    import sentry_sdk

    sentry_sdk.flush(timeout=5)
    assert sentry.events() == []


def test_observed_values_are_asked_for_past_hours(location, open_meteo):
    run_command("compare_forecasts", "--hours", "12")
    assert open_meteo.requests[-1].param("past_hours") == "12"
