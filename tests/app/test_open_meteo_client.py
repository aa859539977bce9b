"""The Open-Meteo client against a local server speaking Open-Meteo's format."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from forecast import open_meteo as client
from tests.harness.http_fake import Response
from tests.harness.open_meteo_fake import CALM

BERLIN, MUNICH = (Decimal("52.52"), Decimal("13.41")), (Decimal("48.14"), Decimal("11.58"))
T0 = 1795874400  # 2026-11-28 14:00 UTC


def fetch(hours=6, past=0, latitude=52.52437, longitude=13.41053):
    return client.fetch_hourly(latitude, longitude, forecast_hours=hours, past_hours=past).hours


def hourly(times, **overrides):
    return {"time": times, **{name: [1.0] * len(times) for name in client.HOURLY_FIELDS}, **overrides}


def test_parses_hourly_arrays_as_utc_hours(open_meteo):
    hours = fetch(hours=6)
    assert len(hours) == 6
    assert hours[0].time.tzinfo == UTC and hours[0].time.minute == 0
    assert hours[0].pressure_msl == 1016.0 and hours[0].humidity == 60.0
    request = open_meteo.requests[-1]
    assert (request.param("timezone"), request.param("timeformat")) == ("auto", "unixtime")
    assert (request.param("latitude"), request.param("longitude")) == ("52.52", "13.41")  # the grid point
    assert set(request.param("hourly").split(",")) == set(client.HOURLY_FIELDS)


def test_many_locations_in_one_request_answer_in_request_order(open_meteo):
    open_meteo.weather = lambda time, latitude, longitude: {**CALM, "temperature_2m": latitude}
    berlin, munich = client.fetch_forecasts([BERLIN, MUNICH], forecast_hours=3)
    assert len(open_meteo.requests) == 1
    request = open_meteo.requests[0]
    assert (request.param("latitude"), request.param("longitude")) == ("52.52,48.14", "13.41,11.58")
    assert berlin.columns["temperature"] == [52.52] * 3 and munich.columns["temperature"] == [48.14] * 3
    assert berlin.timezone == munich.timezone == "Europe/Berlin"
    assert [h.time for h in berlin.hours] == berlin.times


@pytest.mark.parametrize(
    "latitude, longitude, zone",
    [
        (52.52, 13.41, "Europe/Berlin"),
        (37.77493, -122.41942, "America/Los_Angeles"),
        (35.68, 139.69, "Asia/Tokyo"),
        (0.0, -30.0, "GMT"),
    ],
    ids=["berlin", "san-francisco", "tokyo", "atlantic"],
)
def test_reports_the_places_time_zone_and_keeps_the_hours_in_utc(open_meteo, latitude, longitude, zone):
    forecast = client.fetch_hourly(latitude, longitude, forecast_hours=3)
    assert open_meteo.requests[-1].param("timezone") == "auto"
    assert forecast.timezone == zone
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert [h.time for h in forecast.hours] == [this_hour + timedelta(hours=n) for n in range(3)]


def test_unix_times_are_utc_whatever_the_zone(open_meteo):
    open_meteo.script(
        Response(200, {"timezone": "Europe/Berlin", "utc_offset_seconds": 3600, "hourly": hourly([T0, T0 + 3600])})
    )
    (answer,) = client.fetch_forecasts([BERLIN])
    assert answer.times == [datetime(2026, 11, 28, 14, tzinfo=UTC), datetime(2026, 11, 28, 15, tzinfo=UTC)]
    assert answer.timezone == "Europe/Berlin"


def test_a_zone_name_this_system_does_not_know_is_ignored(open_meteo):
    open_meteo.script(Response(200, {"timezone": "Mars/Olympus_Mons", "hourly": hourly([T0])}))
    assert client.fetch_hourly(52.52, 13.41).timezone == ""


def test_one_unusable_location_is_an_error_for_it_alone(open_meteo):
    open_meteo.script(
        Response(
            200,
            [
                {"timezone": "GMT", "hourly": hourly([T0])},
                {"timezone": "GMT", "hourly": hourly([T0], pressure_msl=["n/a"])},
            ],
        )
    )
    good, bad = client.fetch_forecasts([BERLIN, MUNICH])
    assert good.columns["pressure_msl"] == [1.0]
    assert isinstance(bad, client.WeatherAPIError) and "bad value in hourly.pressure_msl" in str(bad)


@pytest.mark.parametrize(
    "body", [[{"hourly": hourly([T0])}], {"hourly": hourly([T0])}], ids=["one-answer-for-two", "an-object-for-two"]
)
def test_not_one_answer_per_location_fails_the_request(open_meteo, body):
    open_meteo.script(Response(200, body))
    with pytest.raises(client.WeatherAPIError, match="for 2 coordinates"):
        client.fetch_forecasts([BERLIN, MUNICH])


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retries_rate_limits_and_server_errors(open_meteo, status):
    open_meteo.script(
        Response(status, {"error": True, "reason": "busy"}, {"Retry-After": "0"}),
        Response(status, {"error": True, "reason": "busy"}),
    )
    assert len(fetch()) == 6
    assert len(open_meteo.requests) == 3


def test_retry_after_is_honoured(open_meteo):
    open_meteo.script(
        Response(429, {"error": True, "reason": "Minutely API request limit exceeded."}, {"Retry-After": "1"})
    )
    assert len(fetch()) == 6
    first, second = open_meteo.requests
    assert second.received - first.received >= 0.9


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


@pytest.mark.parametrize(
    "body",
    [
        "<html>Bad gateway</html>",
        {"hourly": {"time": [T0], "temperature_2m": [1.0]}},
        {"hourly": hourly(["2026-11-28T14:00"])},
        {"hourly": hourly([T0], temperature_2m=[{"value": 1}])},
        [1, 2, 3],
    ],
    ids=["html", "missing-columns", "iso-time-not-unixtime", "not-a-number", "not-an-object"],
)
def test_malformed_answers_are_api_errors(open_meteo, body):
    open_meteo.script(Response(200, body))
    with pytest.raises(client.WeatherAPIError):
        fetch()


def test_null_hours_are_skipped(open_meteo):
    body = {"hourly": hourly([T0, T0 + 3600], temperature_2m=[None, 3.0], precipitation=[1.0, None])}
    open_meteo.script(Response(200, body))
    hours = fetch()
    assert [(h.temperature, h.precipitation) for h in hours] == [(3.0, 0.0)]


@pytest.mark.parametrize(
    "place, point",
    [
        ((52.52437, 13.41053), ("52.52", "13.41")),
        ((Decimal("48.13500"), Decimal("11.57499")), ("48.14", "11.57")),  # half up
        ((-33.86785, 151.20732), ("-33.87", "151.21")),
    ],
)
def test_places_round_to_a_grid_point_of_two_decimals(place, point):
    assert client.grid_point(*place) == tuple(Decimal(v) for v in point)


def test_batches_keep_the_size_and_the_url_length(settings):
    points = [client.grid_point(-89.12345 + n / 1000, -179.12345 + n / 1000) for n in range(2500)]
    assert [(s.start, s.stop) for s in client.batches(points[:250], 100)] == [(0, 100), (100, 200), (200, 250)]
    # Asked for more than a URL can carry: the batches are cut by length instead, none left out.
    long = list(client.batches(points, 1000))
    assert long[0] == slice(0, long[0].stop) and long[0].stop < 1000
    assert all(a.stop == b.start for a, b in zip(long, long[1:], strict=False)) and long[-1].stop == 2500
    for part in long:
        query = client._forecast_query(points[part], forecast_hours=72, past_hours=0)
        assert len(f"{settings.OPEN_METEO_FORECAST_URL}?{query}") <= client.MAX_URL_LENGTH


def test_geocoding_returns_matches_and_nothing_for_unknown_names(open_meteo):
    places = client.geocode("Berlin")
    assert [p.country for p in places] == ["Germany", "United States"]
    assert places[0].label == "Berlin, Land Berlin, Germany"
    assert [p.timezone for p in places] == ["Europe/Berlin", "America/New_York"]
    assert client.geocode("Nowhereville") == []


def test_a_name_that_does_not_resolve_is_named_a_dns_failure(settings):
    # .invalid never resolves (RFC 2606): the lookup fails at once, with no server involved.
    settings.OPEN_METEO_FORECAST_URL = "http://weather.invalid/v1/forecast"
    settings.OPEN_METEO_RETRIES = 0
    with pytest.raises(client.WeatherAPIError) as caught:
        fetch()
    assert "not reachable: DNS lookup failed: the name weather.invalid does not resolve" in str(caught.value)
    assert "timed out" not in str(caught.value)


def test_a_closed_port_is_named_a_refused_connection(settings):
    from tests.harness.processes import free_port

    settings.OPEN_METEO_FORECAST_URL = f"http://127.0.0.1:{free_port()}/v1/forecast"
    settings.OPEN_METEO_RETRIES = 0
    with pytest.raises(client.WeatherAPIError, match="not reachable: connection refused"):
        fetch()
