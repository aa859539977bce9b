"""Client for Open-Meteo's forecast and geocoding APIs (https://open-meteo.com/en/docs).

Hourly values come back as parallel arrays under "hourly", with times written without seconds
or zone ("2026-11-28T14:00"). We ask for timezone=auto, so that the answer names the place's time
zone ("timezone": "Europe/Berlin"); the times are then local, shifted by the one offset the answer
reports ("utc_offset_seconds", the offset valid now, applied to the whole series), and are turned
back into UTC here. Everything is stored in UTC; pages and e-mails show the place's local time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
import sentry_sdk
from django.conf import settings

from forecast import http

logger = logging.getLogger(__name__)

# Open-Meteo's hourly variable names -> our field names.
HOURLY_FIELDS = {
    "temperature_2m": "temperature",
    "relative_humidity_2m": "humidity",
    "pressure_msl": "pressure_msl",
    "surface_pressure": "surface_pressure",
    "precipitation": "precipitation",
    "cloud_cover": "cloud_cover",
    "wind_speed_10m": "wind_speed",
}
REQUIRED_FIELDS = ("temperature", "humidity", "pressure_msl")


class WeatherAPIError(Exception):
    """Open-Meteo could not be reached or answered something we cannot use."""

    def __init__(self, message: str, *, url: str, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body[:500]

    @property
    def context(self) -> dict:
        """The weather_api context reported to Sentry."""
        return {"url": self.url, "status_code": self.status, "response_excerpt": self.body, "reason": str(self)}


@dataclass(frozen=True)
class HourlyWeather:
    time: datetime
    temperature: float
    humidity: float
    pressure_msl: float
    surface_pressure: float | None
    precipitation: float
    cloud_cover: float | None
    wind_speed: float | None


@dataclass(frozen=True)
class Forecast:
    hours: list[HourlyWeather]
    timezone: str  # IANA name of the place's zone, "" when the answer named none we know


@dataclass(frozen=True)
class Place:
    name: str
    latitude: float
    longitude: float
    country: str
    admin1: str
    timezone: str = ""

    @property
    def label(self) -> str:
        return ", ".join(part for part in (self.name, self.admin1, self.country) if part)


def parse_time(value: str, utc_offset_seconds: int = 0) -> datetime:
    """Open-Meteo's "2026-11-28T14:00" (no seconds, no zone, shifted by the offset) as an aware UTC datetime."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) - timedelta(seconds=utc_offset_seconds)


def known_timezone(name) -> str:
    """`name` if it is a time zone this system knows, else "" (then pages fall back to UTC)."""
    if not isinstance(name, str) or not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return name


def _client() -> requests.Session:
    return http.session(settings.OPEN_METEO_RETRIES, settings.OPEN_METEO_BACKOFF)


def _get_json(url: str, params: dict, what: str) -> dict:
    with sentry_sdk.start_span(op="http.client", name=f"GET {what}") as span:
        span.set_data("url", url)
        try:
            response = _client().get(url, params=params, timeout=settings.OPEN_METEO_TIMEOUT)
        except requests.RequestException as exc:
            raise WeatherAPIError(f"{what} not reachable: {http.describe_failure(exc)}", url=url) from exc
        span.set_data("http.response.status_code", response.status_code)
        sentry_sdk.add_breadcrumb(
            category="weather",
            message=f"{what} answered {response.status_code}",
            data={"url": url, "status_code": response.status_code},
            level="info" if response.ok else "warning",
        )
        if not response.ok:
            reason = _error_reason(response)
            raise WeatherAPIError(
                f"{what} answered {response.status_code}: {reason}", url=url, status=response.status_code, body=response.text
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise WeatherAPIError(
                f"{what} answered malformed JSON", url=url, status=response.status_code, body=response.text
            ) from exc
        if not isinstance(data, dict):
            raise WeatherAPIError(f"{what} answered {type(data).__name__}, not an object", url=url,
                                  status=response.status_code, body=response.text)
        return data


def _error_reason(response: requests.Response) -> str:
    try:
        return str(response.json().get("reason", "")) or response.reason
    except (ValueError, AttributeError):
        return response.reason or "no reason given"


def fetch_hourly(latitude: float, longitude: float, *, forecast_hours: int = 72, past_hours: int = 0) -> Forecast:
    """Hourly weather from `past_hours` ago to `forecast_hours` ahead, and the place's time zone; raises WeatherAPIError."""
    url = settings.OPEN_METEO_FORECAST_URL
    params = {
        "latitude": f"{latitude:.5f}",
        "longitude": f"{longitude:.5f}",
        "hourly": ",".join(HOURLY_FIELDS),
        "timezone": "auto",
        "forecast_hours": forecast_hours,
        "past_hours": past_hours,
    }
    with sentry_sdk.start_span(op="weather.fetch", name=f"Open-Meteo forecast {latitude:.2f},{longitude:.2f}"):
        data = _get_json(url, params, "Open-Meteo forecast")
        return Forecast(_parse_hourly(data, url), known_timezone(data.get("timezone")))


def _parse_hourly(data: dict, url: str) -> list[HourlyWeather]:
    offset = data.get("utc_offset_seconds", 0)
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise WeatherAPIError(f"Open-Meteo forecast: utc_offset_seconds is {offset!r}, not whole seconds",
                              url=url, body=str(data))
    hourly = data.get("hourly")
    if not isinstance(hourly, dict) or not isinstance(hourly.get("time"), list):
        raise WeatherAPIError("Open-Meteo forecast has no hourly.time array", url=url, body=str(data))
    times = hourly["time"]
    columns = {}
    for api_name, field in HOURLY_FIELDS.items():
        values = hourly.get(api_name)
        if values is None and field not in REQUIRED_FIELDS:
            values = [None] * len(times)
        if not isinstance(values, list) or len(values) != len(times):
            raise WeatherAPIError(f"Open-Meteo forecast: hourly.{api_name} is missing or of the wrong length",
                                  url=url, body=str(data))
        columns[field] = values
    hours = []
    for index, raw_time in enumerate(times):
        row = {field: values[index] for field, values in columns.items()}
        if any(row[field] is None for field in REQUIRED_FIELDS):
            continue  # Open-Meteo leaves gaps as null; such an hour is unusable, not an error.
        try:
            hours.append(
                HourlyWeather(
                    time=parse_time(raw_time, offset),
                    precipitation=float(row.pop("precipitation") or 0.0),
                    **{field: (None if value is None else float(value)) for field, value in row.items()},
                )
            )
        except (TypeError, ValueError) as exc:
            raise WeatherAPIError(f"Open-Meteo forecast: bad value at {raw_time!r}: {exc}", url=url, body=str(data)) from exc
    return hours


def geocode(name: str, count: int = 8) -> list[Place]:
    """Places matching `name`, best first; an empty list when there is none."""
    url = settings.OPEN_METEO_GEOCODING_URL
    data = _get_json(url, {"name": name, "count": count, "language": "en", "format": "json"}, "Open-Meteo geocoding")
    results = data.get("results", [])
    if not isinstance(results, list):
        raise WeatherAPIError("Open-Meteo geocoding: results is not a list", url=url, body=str(data))
    places = []
    for item in results:
        try:
            places.append(
                Place(
                    name=str(item["name"]),
                    latitude=float(item["latitude"]),
                    longitude=float(item["longitude"]),
                    country=str(item.get("country") or ""),
                    admin1=str(item.get("admin1") or ""),
                    timezone=known_timezone(item.get("timezone")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeatherAPIError(f"Open-Meteo geocoding: bad result {item!r}", url=url, body=str(data)) from exc
    return places
