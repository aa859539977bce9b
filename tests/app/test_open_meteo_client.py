"""The Open-Meteo client against a local server speaking Open-Meteo's format."""
from datetime import UTC, datetime, timedelta

import pytest

from forecast import open_meteo as client
from tests.harness.http_fake import Response


def fetch(hours=6, past=0, latitude=52.52, longitude=13.41):
    return client.fetch_hourly(latitude, longitude, forecast_hours=hours, past_hours=past).hours


def test_parses_hourly_arrays_as_utc_hours(open_meteo):
    hours = fetch(hours=6)
    assert len(hours) == 6
    assert hours[0].time.tzinfo == UTC and hours[0].time.minute == 0
    assert hours[0].pressure_msl == 1016.0 and hours[0].humidity == 60.0
    request = open_meteo.requests[-1]
    assert set(request.param("hourly").split(",")) == set(client.HOURLY_FIELDS)


@pytest.mark.parametrize("latitude, longitude, zone", [
    (52.52, 13.41, "Europe/Berlin"), (37.77493, -122.41942, "America/Los_Angeles"), (35.68, 139.69, "Asia/Tokyo"),
    (0.0, -30.0, "GMT"),
], ids=["berlin", "san-francisco", "tokyo", "atlantic"])
def test_reports_the_places_time_zone_and_keeps_the_hours_in_utc(open_meteo, latitude, longitude, zone):
    forecast = client.fetch_hourly(latitude, longitude, forecast_hours=3)
    assert open_meteo.requests[-1].param("timezone") == "auto"
    assert forecast.timezone == zone
    # The fake answers in local time, as the real API does; the hours come back as UTC all the same.
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert [h.time for h in forecast.hours] == [this_hour + timedelta(hours=n) for n in range(3)]


def test_time_strings_without_seconds_or_zone():
    assert client.parse_time("2026-11-28T14:00") == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    # Local times shifted by the answer's one utc_offset_seconds (Berlin in winter: +1 h).
    assert client.parse_time("2026-11-28T15:00", 3600) == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert client.parse_time("2026-11-28T05:00", -9 * 3600) == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def test_a_zone_name_this_system_does_not_know_is_ignored(open_meteo):
    body = {"timezone": "Mars/Olympus_Mons", "utc_offset_seconds": 0,
            "hourly": {"time": ["2026-11-28T14:00"], **{name: [1.0] for name in client.HOURLY_FIELDS}}}
    open_meteo.script(Response(200, body))
    assert client.fetch_hourly(52.52, 13.41).timezone == ""


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retries_rate_limits_and_server_errors(open_meteo, status):
    open_meteo.script(Response(status, {"error": True, "reason": "busy"}, {"Retry-After": "0"}),
                      Response(status, {"error": True, "reason": "busy"}))
    assert len(fetch()) == 6
    assert len(open_meteo.requests) == 3


def test_gives_up_after_the_configured_retries(open_meteo, settings):
    settings.OPEN_METEO_RETRIES = 2
    open_meteo.script(*[Response(503, {"error": True, "reason": "Service Unavailable"})] * 5)
    with pytest.raises(client.WeatherAPIError) as caught:
        fetch()
    assert caught.value.status == 503
    assert "Service Unavailable" in str(caught.value)
    assert len(open_meteo.requests) == 3  # the first try and two retries


def test_client_errors_are_not_retried(open_meteo):
    open_meteo.script(Response(400, {"error": True, "reason": "Cannot initialize WeatherVariable"}))
    with pytest.raises(client.WeatherAPIError, match="400: Cannot initialize WeatherVariable"):
        fetch()
    assert len(open_meteo.requests) == 1


def test_timeout_is_an_api_error(open_meteo, settings):
    settings.OPEN_METEO_TIMEOUT = 0.3
    settings.OPEN_METEO_RETRIES = 0
    open_meteo.script(Response(200, {}, delay=1.0))
    with pytest.raises(client.WeatherAPIError, match="not reachable: timed out"):
        fetch()


@pytest.mark.parametrize("body", [
    "<html>Bad gateway</html>",
    {"hourly": {"time": ["2026-11-28T14:00"], "temperature_2m": [1.0]}},
    {"hourly": {"time": ["not a time"], **{name: [1.0] for name in client.HOURLY_FIELDS}}},
    {"utc_offset_seconds": "3600",
     "hourly": {"time": ["2026-11-28T14:00"], **{name: [1.0] for name in client.HOURLY_FIELDS}}},
    [1, 2, 3],
], ids=["html", "missing-columns", "bad-time", "bad-offset", "not-an-object"])
def test_malformed_answers_are_api_errors(open_meteo, body):
    open_meteo.script(Response(200, body))
    with pytest.raises(client.WeatherAPIError):
        fetch()


def test_null_hours_are_skipped(open_meteo):
    body = {"hourly": {"time": ["2026-11-28T14:00", "2026-11-28T15:00"],
                       **{name: [1.0, 2.0] for name in client.HOURLY_FIELDS}}}
    body["hourly"]["temperature_2m"] = [None, 3.0]
    open_meteo.script(Response(200, body))
    assert [h.temperature for h in fetch()] == [3.0]


def test_geocoding_returns_matches_and_nothing_for_unknown_names(open_meteo):
    places = client.geocode("Berlin")
    assert [p.country for p in places] == ["Germany", "United States"]
    assert places[0].label == "Berlin, Land Berlin, Germany"
    assert [p.timezone for p in places] == ["Europe/Berlin", "America/New_York"]
    assert client.geocode("Nowhereville") == []
