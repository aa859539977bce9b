"""Client for Open-Meteo's forecast and geocoding APIs (https://open-meteo.com/en/docs).

One forecast request carries many locations: latitude and longitude take comma-separated
lists and the answer is then a JSON array with one object per location, in request order (a
single location still answers one object). We ask for timeformat=unixtime (hourly times as
unix seconds, UTC, unambiguous across DST) and timezone=auto (each object names the
location's IANA zone); hourly values come back as parallel arrays under "hourly".

Two call policies: the jobs' (OPEN_METEO_TIMEOUT a try, OPEN_METEO_RETRIES retries with backoff)
and a page's (a PageBudget: one try per call, all of a request's calls within
OPEN_METEO_PAGE_TIMEOUT together), so that a slow or hung Open-Meteo never holds a page for long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import requests
import sentry_sdk
import urllib3
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

# Open-Meteo's limits for many locations in one request. The API docs (https://open-meteo.com/en/docs,
# latitude/longitude) give the format, not a number. Up to 1,000 locations: Open-Meteo's announcement
# ("you can fetch data for up to 1000 locations in a single go",
# https://openmeteo.substack.com/p/weather-data-for-multiple-locations) and its maintainer
# (https://github.com/open-meteo/open-meteo/issues/1295: "Currently, up to 1000 locations are
# supported per API call. Since this can exceed the HTTP GET URL length, the API also supports
# sending all parameters via POST"). The URL length has no documented number; a request for 680
# locations failed with a reset connection, which the maintainer put down to a URL "longer than
# 64k characters" (https://github.com/open-meteo/open-meteo/issues/715). We keep every URL under
# 8,000 characters, the request-line limit of common servers and proxies on the way (nginx's 8 KB
# header buffers, Apache's LimitRequestLine 8190); with two decimals a location takes at most 15
# characters, so 100 locations need about 1.6 KB. Open-Meteo counts each location as one API call
# against its rate limits (issue 1295), so batching saves round trips, not quota; asking each grid
# point once (GRID_DECIMALS) saves quota.
MAX_LOCATIONS_PER_REQUEST = 1000
MAX_URL_LENGTH = 8000

# Places that round to the same coordinate at this many decimals share one request coordinate.
# 0.01° moves a place by at most about 0.8 km, less than one grid cell of the finest models
# Open-Meteo serves (1-2 km; the global ones are 9-25 km), so the forecast is practically the
# same; at 3 decimals (110 m) different users' places would hardly ever merge, at 1 (11 km) the
# regional models' detail would be lost.
GRID_DECIMALS = 2
_GRID = Decimal(1).scaleb(-GRID_DECIMALS)

Coordinates = tuple[Decimal, Decimal]


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
class LocationForecast:
    """One location's answer, kept in Open-Meteo's column form (parallel lists) because storing
    thousands of locations works on columns; `hours` gives the rows."""

    timezone: str  # IANA name of the place's zone ("Europe/Berlin"), "" when the answer named none we know
    times: list[datetime]  # UTC; hours with a required value missing are left out
    columns: dict[str, list[float | None]]  # our field name -> one value per time

    @property
    def hours(self) -> list[HourlyWeather]:
        return [
            HourlyWeather(time, **dict(zip(self.columns, values, strict=True)))
            for time, *values in zip(self.times, *self.columns.values(), strict=True)
        ]


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


class PageBudget:
    """The time one page's request may still spend on Open-Meteo, over all its calls (a search and
    then a new place's forecast, say). Each call is tried once: what does not fit is left to the
    scheduled job, which retries."""

    def __init__(self, seconds: float | None = None):
        self.seconds = settings.OPEN_METEO_PAGE_TIMEOUT if seconds is None else seconds
        self.ends = time.monotonic() + self.seconds

    def timeout(self, url: str, what: str) -> urllib3.Timeout:
        """The rest of the budget as one call's total timeout (connecting and reading together);
        WeatherAPIError when nothing is left."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise WeatherAPIError(f"{what} not asked: the page's {self.seconds:g} s for Open-Meteo are spent", url=url)
        return urllib3.Timeout(total=left)


def known_timezone(name) -> str:
    """`name` if it is a time zone this system knows, else "" (then pages fall back to UTC)."""
    if not isinstance(name, str) or not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return name


def grid_point(latitude, longitude) -> Coordinates:
    """The coordinate asked for a place: rounded to GRID_DECIMALS (see there)."""
    return (
        Decimal(str(latitude)).quantize(_GRID, ROUND_HALF_UP),
        Decimal(str(longitude)).quantize(_GRID, ROUND_HALF_UP),
    )


def batches(points: Sequence[Coordinates], size: int) -> Iterator[slice]:
    """Consecutive slices of `points` of at most `size` locations whose request URL stays within
    MAX_URL_LENGTH."""
    size = min(size, MAX_LOCATIONS_PER_REQUEST)
    fixed = len(settings.OPEN_METEO_FORECAST_URL) + 1 + len(_forecast_query([], forecast_hours=72, past_hours=0))
    start, length = 0, fixed
    for index, (latitude, longitude) in enumerate(points):
        extra = len(str(latitude)) + len(str(longitude)) + 2  # and a comma in each list
        if index > start and (index - start >= size or length + extra > MAX_URL_LENGTH):
            yield slice(start, index)
            start, length = index, fixed
        length += extra
    if start < len(points):
        yield slice(start, len(points))


def _forecast_query(points: Sequence[Coordinates], *, forecast_hours: int, past_hours: int) -> str:
    query = {
        "latitude": ",".join(str(latitude) for latitude, _ in points),
        "longitude": ",".join(str(longitude) for _, longitude in points),
        "hourly": ",".join(HOURLY_FIELDS),
        "timezone": "auto",
        "timeformat": "unixtime",
        "forecast_hours": forecast_hours,
        "past_hours": past_hours,
    }
    # Commas stay as they are: "%2C" would make each list up to twice as long.
    return urlencode(query, safe=",")


def _client(budget: PageBudget | None) -> requests.Session:
    retries, backoff = (0, 0.0) if budget is not None else (settings.OPEN_METEO_RETRIES, settings.OPEN_METEO_BACKOFF)
    return http.session(retries, backoff, pool_size=settings.OPEN_METEO_CONCURRENCY)


def _get_json(url: str, params: dict | str, what: str, *, allowed=(dict,), budget: PageBudget | None = None):
    """One GET under the jobs' policy, or, with a `budget`, a page's."""
    timeout = settings.OPEN_METEO_TIMEOUT if budget is None else budget.timeout(url, what)
    with sentry_sdk.start_span(op="http.client", name=f"GET {what}") as span:
        span.set_data("url", url)
        try:
            # requests takes a urllib3 Timeout as it is (HTTPAdapter.send); types-requests lists floats only.
            response = _client(budget).get(url, params=params, timeout=timeout)  # type: ignore[arg-type]
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
                f"{what} answered {response.status_code}: {reason}",
                url=url,
                status=response.status_code,
                body=response.text,
            )
        try:
            data = orjson.loads(response.content)  # six times json's speed on a 100-location answer
        except orjson.JSONDecodeError as exc:
            raise WeatherAPIError(
                f"{what} answered malformed JSON", url=url, status=response.status_code, body=response.text
            ) from exc
        if not isinstance(data, allowed):
            raise WeatherAPIError(
                f"{what} answered {type(data).__name__}, not an object",
                url=url,
                status=response.status_code,
                body=response.text,
            )
        return data


def _error_reason(response: requests.Response) -> str:
    try:
        return str(response.json().get("reason", "")) or response.reason
    except (ValueError, AttributeError):
        return response.reason or "no reason given"


def fetch_forecasts(
    points: Sequence[Coordinates], *, forecast_hours: int = 72, past_hours: int = 0, budget: PageBudget | None = None
) -> list[LocationForecast | WeatherAPIError]:
    """Hourly weather for each point, from `past_hours` ago to `forecast_hours` ahead, in one request
    (within a page's `budget` when one is given).

    Raises WeatherAPIError when the request as a whole fails (unreachable, an error status, not
    one answer per point); a point whose own answer is unusable gets its WeatherAPIError in the
    list instead, so that the others are kept.
    """
    url = settings.OPEN_METEO_FORECAST_URL
    query = _forecast_query(points, forecast_hours=forecast_hours, past_hours=past_hours)
    with sentry_sdk.start_span(op="weather.fetch", name="Open-Meteo forecast") as span:
        span.set_data("locations", len(points))
        data = _get_json(url, query, "Open-Meteo forecast", allowed=(dict, list), budget=budget)
    answers = [data] if isinstance(data, dict) and len(points) == 1 else data
    if not isinstance(answers, list) or len(answers) != len(points):
        count = len(answers) if isinstance(answers, list) else "not a list of"
        raise WeatherAPIError(
            f"Open-Meteo forecast answered {count} locations for {len(points)} coordinates",
            url=url,
            status=200,
            body=str(data),
        )
    results: list[LocationForecast | WeatherAPIError] = []
    times = _Times()
    for answer in answers:
        try:
            results.append(_parse_location(answer, url, times))
        except WeatherAPIError as exc:
            results.append(exc)
    return results


def fetch_hourly(latitude, longitude, *, forecast_hours: int = 72, past_hours: int = 0) -> LocationForecast:
    """One place's forecast (at its grid point): `.hours` and `.timezone`; raises WeatherAPIError."""
    (answer,) = fetch_forecasts([grid_point(latitude, longitude)], forecast_hours=forecast_hours, past_hours=past_hours)
    if isinstance(answer, WeatherAPIError):
        raise answer
    return answer


class _Times:
    """Unix seconds -> aware UTC datetimes; every location of a request has the same hours, so
    they are converted once."""

    def __init__(self):
        self.raw: list | None = None
        self.parsed: list[datetime] = []

    def parse(self, raw: list, url: str) -> list[datetime]:
        if raw != self.raw:
            if not all(type(value) is int for value in raw):
                raise WeatherAPIError(
                    "Open-Meteo forecast: hourly.time is not unix seconds", url=url, body=str(raw)[:500]
                )
            self.raw, self.parsed = raw, [datetime.fromtimestamp(value, UTC) for value in raw]
        return self.parsed


def _parse_location(data, url: str, times: _Times) -> LocationForecast:
    hourly = data.get("hourly") if isinstance(data, dict) else None
    if not isinstance(hourly, dict) or not isinstance(hourly.get("time"), list):
        raise WeatherAPIError("Open-Meteo forecast has no hourly.time array", url=url, body=str(data))
    all_times = times.parse(hourly["time"], url)
    columns = {}
    for api_name, field in HOURLY_FIELDS.items():
        values = hourly.get(api_name)
        if values is None and field not in REQUIRED_FIELDS:
            values = [None] * len(all_times)
        if not isinstance(values, list) or len(values) != len(all_times):
            raise WeatherAPIError(
                f"Open-Meteo forecast: hourly.{api_name} is missing or of the wrong length", url=url, body=str(data)
            )
        try:
            columns[field] = [None if value is None else float(value) for value in values]
        except (TypeError, ValueError) as exc:
            raise WeatherAPIError(
                f"Open-Meteo forecast: bad value in hourly.{api_name}: {exc}", url=url, body=str(data)
            ) from exc
    columns["precipitation"] = [value or 0.0 for value in columns["precipitation"]]
    # Open-Meteo leaves gaps as null; such an hour is unusable, not an error.
    keep = [
        index for index in range(len(all_times)) if all(columns[field][index] is not None for field in REQUIRED_FIELDS)
    ]
    if len(keep) < len(all_times):
        all_times = [all_times[index] for index in keep]
        columns = {field: [values[index] for index in keep] for field, values in columns.items()}
    return LocationForecast(timezone=known_timezone(data.get("timezone")), times=all_times, columns=columns)


def geocode(name: str, count: int = 8, *, budget: PageBudget | None = None) -> list[Place]:
    """Places matching `name`, best first; an empty list when there is none."""
    url = settings.OPEN_METEO_GEOCODING_URL
    data = _get_json(
        url, {"name": name, "count": count, "language": "en", "format": "json"}, "Open-Meteo geocoding", budget=budget
    )
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
