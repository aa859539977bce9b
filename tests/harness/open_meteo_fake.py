"""Open-Meteo's forecast (/v1/forecast) and geocoding (/v1/search) APIs, in their real formats.

Many locations in one request as the real forecast API takes them (https://open-meteo.com/en/docs:
"Multiple coordinates can be comma separated ... the JSON output changes to a list of
structures"): comma-separated latitude and longitude lists answer an array of objects in request
order, a single location one object. `timeformat` is iso8601 (local times, below) or unixtime
(seconds, always UTC). Errors are HTTP 400 with {"error": true, "reason": ...}. `delay` adds
seconds to every answer, like the real API's network and compute time.

Time zones as the real forecast API handles them (https://open-meteo.com/en/docs, "timezone"):
timezone=auto resolves the coordinates to their zone; any other value names one (default GMT).
The answer names the zone ("timezone", "timezone_abbreviation") and the times are local, all
shifted by the one offset valid now ("utc_offset_seconds"), even across a DST change (the
maintainers confirm this in open-meteo/open-meteo#261). The fake knows a few places' zones
(ZONES); other coordinates resolve to GMT.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.harness.http_fake import FakeHTTPServer, Request, Response

UNITS = {
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "pressure_msl": "hPa",
    "surface_pressure": "hPa",
    "precipitation": "mm",
    "precipitation_probability": "%",
    "cloud_cover": "%",
    "visibility": "m",
    "wind_speed_10m": "km/h",
}

CALM = {
    "temperature_2m": 12.0,
    "relative_humidity_2m": 60.0,
    "pressure_msl": 1016.0,
    "surface_pressure": 1010.0,
    "precipitation": 0.0,
    "precipitation_probability": 5.0,
    "cloud_cover": 30.0,
    "visibility": 24140.0,
    "wind_speed_10m": 8.0,
}


# (latitude, longitude, zone): timezone=auto picks the nearest within ZONE_RADIUS degrees.
ZONES = [
    (52.52, 13.41, "Europe/Berlin"),
    (53.55, 9.99, "Europe/Berlin"),
    (48.14, 11.58, "Europe/Berlin"),
    (44.47, -71.19, "America/New_York"),
    (37.77, -122.42, "America/Los_Angeles"),
    (35.68, 139.69, "Asia/Tokyo"),
]
ZONE_RADIUS = 2.0


def zone_at(latitude: float, longitude: float) -> str:
    distance, zone = min((math.hypot(latitude - lat, longitude - lon), zone) for lat, lon, zone in ZONES)
    return zone if distance <= ZONE_RADIUS else "GMT"


def calm_weather(time: datetime, latitude: float, longitude: float) -> dict:
    """Mild, steady weather with a small daily temperature wave: LOW risk for everyone."""
    return {**CALM, "temperature_2m": round(12 + 2 * math.sin(time.hour / 24 * 2 * math.pi), 1)}


def stormy_weather(time: datetime, latitude: float, longitude: float) -> dict:
    """A deep low arriving: pressure falls 2 hPa an hour, temperature drops, humid and wet: HIGH risk."""
    hours = (time - datetime.now(UTC).replace(minute=0, second=0, microsecond=0)) / timedelta(hours=1)
    return {
        "temperature_2m": round(18 - 1.5 * max(hours, 0), 1),
        "relative_humidity_2m": 96.0,
        "pressure_msl": round(1010 - 2.0 * max(hours, 0), 1),
        "surface_pressure": 1000.0,
        "precipitation": 2.5,
        "precipitation_probability": 95.0,
        "cloud_cover": 100.0,
        "visibility": 2000.0,
        "wind_speed_10m": 40.0,
    }


def refused(reason: str) -> Response:
    """Open-Meteo's answer to a bad request."""
    return Response(400, {"error": True, "reason": reason})


class OpenMeteoFake(FakeHTTPServer):
    name = "open-meteo"

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.weather = calm_weather
        self.delay = delay  # seconds added to every answer
        # name (lower case) -> list of geocoding results
        self.places = {
            "berlin": [
                {
                    "id": 2950159,
                    "name": "Berlin",
                    "latitude": 52.52437,
                    "longitude": 13.41053,
                    "elevation": 74.0,
                    "feature_code": "PPLC",
                    "country_code": "DE",
                    "timezone": "Europe/Berlin",
                    "population": 3426354,
                    "country_id": 2921044,
                    "country": "Germany",
                    "admin1": "Land Berlin",
                    "admin1_id": 2950157,
                },
                {
                    "id": 5083330,
                    "name": "Berlin",
                    "latitude": 44.46867,
                    "longitude": -71.18508,
                    "elevation": 311.0,
                    "feature_code": "PPL",
                    "country_code": "US",
                    "timezone": "America/New_York",
                    "population": 9367,
                    "country_id": 6252001,
                    "country": "United States",
                    "admin1": "New Hampshire",
                },
            ],
        }

    def reset(self):
        super().reset()
        self.weather = calm_weather
        self.delay = 0.0

    def route(self, request: Request) -> Response:
        if request.path == "/v1/forecast":
            return self.forecast(request)
        if request.path == "/v1/search":
            return self.search(request)
        return Response(404, {"error": True, "reason": "Not Found"})

    def forecast(self, request: Request) -> Response:
        """One location: one object. Comma-separated lists: an array of objects in request order."""
        try:
            latitudes = [float(v) for v in (request.param("latitude") or "").split(",")]
            longitudes = [float(v) for v in (request.param("longitude") or "").split(",")]
        except ValueError:
            return refused("Parameter 'latitude' and 'longitude' must have the same number of elements")
        if len(latitudes) != len(longitudes):
            return refused("Parameter 'latitude' and 'longitude' must have the same number of elements")
        for latitude, longitude in zip(latitudes, longitudes, strict=True):
            if not -90 <= latitude <= 90:
                return refused(f"Latitude must be in range of -90 to 90°. Given: {latitude}.")
            if not -180 <= longitude <= 180:
                return refused(f"Longitude must be in range of -180 to 180°. Given: {longitude}.")
        variables = [v for v in (request.param("hourly") or "").split(",") if v]
        unknown = [v for v in variables if v not in UNITS]
        if unknown:
            return refused(f"Cannot initialize WeatherVariable from invalid String value {unknown[0]} for key hourly")
        timeformat = request.param("timeformat") or "iso8601"
        if timeformat not in ("iso8601", "unixtime"):
            return refused(f"Cannot initialize TimeFormat from invalid String value {timeformat} for key timeformat")
        zone_name = request.param("timezone") or "GMT"
        zones = [
            zone_at(lat, lon) if zone_name == "auto" else zone_name
            for lat, lon in zip(latitudes, longitudes, strict=True)
        ]
        try:
            zones = [ZoneInfo(zone) for zone in zones]
        except (ZoneInfoNotFoundError, ValueError):
            return refused(f"Invalid timezone: {zone_name}")
        # forecast_hours counts from the current hour; without it, forecast_days (default 7) whole
        # days from today's midnight (of the zone asked for; the fake takes UTC's).
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        past_hours = int(request.param("past_hours") or 0)
        if request.param("forecast_hours"):
            first, count = now, int(request.param("forecast_hours"))
        else:
            first, count = now.replace(hour=0), 24 * int(request.param("forecast_days") or 7)
        times = [first + timedelta(hours=h) for h in range(-past_hours, count)]
        answers = [
            self.location(lat, lon, zone, now, times, variables, timeformat)
            for lat, lon, zone in zip(latitudes, longitudes, zones, strict=True)
        ]
        return Response(200, answers[0] if len(answers) == 1 else answers, delay=self.delay)

    def location(self, latitude, longitude, zone, now, times, variables, timeformat) -> dict:
        offset = now.astimezone(zone).utcoffset()
        rows = [self.weather(t, latitude, longitude) for t in times]
        if timeformat == "unixtime":
            hourly = {"time": [int(t.timestamp()) for t in times]}
        else:
            hourly = {"time": [(t + offset).strftime("%Y-%m-%dT%H:%M") for t in times]}
        for variable in variables:
            hourly[variable] = [row[variable] for row in rows]
        return {
            "latitude": round(latitude, 6),
            "longitude": round(longitude, 6),
            "generationtime_ms": 0.07,
            "utc_offset_seconds": int(offset.total_seconds()),
            "timezone": str(zone),
            "timezone_abbreviation": now.astimezone(zone).tzname(),
            "elevation": 38.0,
            "hourly_units": {"time": timeformat, **{v: UNITS[v] for v in variables}},
            "hourly": hourly,
        }

    def search(self, request: Request) -> Response:
        name = (request.param("name") or "").strip().lower()
        count = int(request.param("count") or 10)
        results = self.places.get(name, [])[:count]
        # Like the real API: no "results" key at all when nothing matches.
        return Response(
            200,
            {"results": results, "generationtime_ms": 0.6} if results else {"generationtime_ms": 0.4},
            delay=self.delay,
        )
