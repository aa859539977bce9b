"""Collecting Open-Meteo forecasts for many locations: one row per location and hour, upserted.

Locations that round to the same grid point share one coordinate (open_meteo.GRID_DECIMALS).
The points go out in batches (OPEN_METEO_BATCH_SIZE locations per request), at most
OPEN_METEO_CONCURRENCY requests at a time, and each batch is written with one bulk upsert in
one database transaction, with the places' time zones as Open-Meteo names them. One bad
location never costs the others: a location whose answer is unusable fails alone, and a batch
Open-Meteo refuses with a 400 is split in halves until the refused coordinates are alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sentry_sdk
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from forecast import forecast_upsert, open_meteo, workers
from forecast.models import Location, WeatherForecast
from forecast.open_meteo import Coordinates, LocationForecast, WeatherAPIError


@dataclass
class GridPoint:
    coordinates: Coordinates
    locations: list


@dataclass
class Failure:
    """Locations that got no forecast, and why (one Sentry event each, however many locations)."""

    locations: list
    error: Exception


@dataclass
class Fetched:
    """What the requests for some grid points brought back."""

    forecasts: list[tuple[GridPoint, LocationForecast]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0
    refusal: WeatherAPIError | None = None  # the request as a whole was answered 400

    def add(self, other: Fetched) -> None:
        self.forecasts += other.forecasts
        self.failures += other.failures
        self.requests += other.requests


@dataclass
class BatchResult:
    number: int
    batches: int
    points: int
    locations: int
    requests: int
    rows: int  # forecast hours stored (fetched, in a dry run)
    failures: list[Failure]
    dry_run: bool

    @property
    def failed(self) -> int:
        return sum(len(failure.locations) for failure in self.failures)

    @property
    def ok(self) -> int:
        return self.locations - self.failed

    def __str__(self):
        stored = "fetched (dry run, nothing stored)" if self.dry_run else "stored"
        return (
            f"{self.locations} location(s) at {self.points} grid point(s): {self.rows} hours {stored}, "
            f"{self.failed} failed, {self.requests} request(s)"
        )


def grid_points(locations: Iterable) -> list[GridPoint]:
    """The locations grouped by the coordinate asked for them, in first-seen order."""
    points: dict[Coordinates, GridPoint] = {}
    for location in locations:
        key = open_meteo.grid_point(location.latitude, location.longitude)
        points.setdefault(key, GridPoint(key, [])).locations.append(location)
    return list(points.values())


def collect(location, *, budget: open_meteo.PageBudget, hours: int = 72) -> int:
    """One place's forecast, now, for a page (adding or refreshing it), within the page's `budget`;
    returns the hours stored, raises what failed. Fetched on the calling thread: one request needs no pool."""
    fetched = _fetch_batch(grid_points([location]), hours, budget)
    if fetched.failures:
        raise fetched.failures[0].error
    return _store(fetched.forecasts)


def collect_all(locations: list, *, hours: int = 72, dry_run: bool = False) -> Iterator[BatchResult]:
    """Fetch the next `hours` for every location and upsert them, batch by batch."""
    points = grid_points(locations)
    parts = list(open_meteo.batches([point.coordinates for point in points], settings.OPEN_METEO_BATCH_SIZE))

    def fetch(part: slice) -> Fetched:
        return _fetch_batch(points[part], hours)

    concurrency = settings.OPEN_METEO_CONCURRENCY
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="open-meteo")
    try:
        # Twice the concurrency fetched ahead: requests never wait for the database, and no more
        # than that many parsed batches wait in memory for it.
        answers = workers.in_order(pool, workers.in_job_scope(fetch), parts, ahead=2 * concurrency)
        for number, (part, fetched) in enumerate(zip(parts, answers, strict=True), 1):
            batch = points[part]
            failures = list(fetched.failures)
            rows = 0
            try:
                rows = _count(fetched.forecasts) if dry_run else _store(fetched.forecasts)
            except Exception as exc:  # the database refused the batch: its locations failed, the run goes on
                failures.append(Failure(_locations([point for point, _ in fetched.forecasts]), exc))
            yield BatchResult(
                number=number,
                batches=len(parts),
                points=len(batch),
                locations=sum(len(point.locations) for point in batch),
                requests=fetched.requests,
                rows=rows,
                failures=failures,
                dry_run=dry_run,
            )
    finally:
        pool.shutdown(cancel_futures=True)


def _fetch_batch(points: list[GridPoint], hours: int, budget: open_meteo.PageBudget | None = None) -> Fetched:
    try:
        return _fetch_isolating(points, hours, _fetch(points, hours, budget))
    except Exception as exc:  # a bug in parsing must not stop the other batches either
        return Fetched(failures=[Failure(_locations(points), exc)], requests=1)


def _fetch(points: list[GridPoint], hours: int, budget: open_meteo.PageBudget | None = None) -> Fetched:
    """One request for `points`."""
    try:
        answers = open_meteo.fetch_forecasts(
            [point.coordinates for point in points], forecast_hours=hours, budget=budget
        )
    except WeatherAPIError as exc:
        return Fetched(
            failures=[Failure(_locations(points), exc)], requests=1, refusal=exc if exc.status == 400 else None
        )
    fetched = Fetched(requests=1)
    for point, answer in zip(points, answers, strict=True):
        if isinstance(answer, WeatherAPIError):
            fetched.failures.append(Failure(point.locations, answer))
        else:
            fetched.forecasts.append((point, answer))
    return fetched


def _fetch_isolating(points: list[GridPoint], hours: int, fetched: Fetched) -> Fetched:
    """`fetched` is the answer for `points`. Open-Meteo refuses a whole request for one bad
    coordinate, so a 400 for several points is split in halves, and each refused half again,
    until the refused points are alone: one bad point among 100 costs 14 more requests.
    When both halves are refused for the very same reason, the request itself is at fault (not a
    coordinate: Open-Meteo names the bad value in its reason), and splitting stops there."""
    if fetched.refusal is None or len(points) == 1:
        return fetched
    middle = len(points) // 2
    halves = [points[:middle], points[middle:]]
    answers = [_fetch(half, hours) for half in halves]
    if all(answer.refusal is not None and str(answer.refusal) == str(fetched.refusal) for answer in answers):
        fetched.requests += sum(answer.requests for answer in answers)
        fetched.refusal = None
        return fetched
    result = Fetched(requests=fetched.requests)
    for half, answer in zip(halves, answers, strict=True):
        result.add(_fetch_isolating(half, hours, answer))
    return result


def _locations(points: list[GridPoint]) -> list:
    return [location for point in points for location in point.locations]


def _future_hours(forecast: LocationForecast, since) -> list[int]:
    return [index for index, time in enumerate(forecast.times) if time >= since]


def _count(forecasts: list[tuple[GridPoint, LocationForecast]]) -> int:
    since = _this_hour()
    return sum(len(_future_hours(forecast, since)) * len(point.locations) for point, forecast in forecasts)


def _this_hour():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def _store(forecasts: list[tuple[GridPoint, LocationForecast]]) -> int:
    """Upsert the coming hours of every location at once, in one transaction; returns the rows written."""
    if not forecasts:
        return 0
    since = _this_hour()
    columns: dict[str, list] = {name: [] for name in forecast_upsert.COLUMNS}
    for point, forecast in forecasts:
        keep = _future_hours(forecast, since)
        times = [forecast.times[index] for index in keep]
        values = {name: [forecast.columns[name][index] for index in keep] for name in forecast_upsert.FIELDS}
        for location in point.locations:
            columns["location_id"] += [location.pk] * len(times)
            columns["target_time"] += times
            for name in forecast_upsert.FIELDS:
                columns[name] += values[name]
    rows = len(columns["location_id"])
    with sentry_sdk.start_span(op="db.upsert", name="weather forecasts bulk upsert") as span, transaction.atomic():
        span.set_data("rows", rows)
        if rows:
            forecast_upsert.upsert(columns, timezone.now())
        _update_timezones(forecasts)
    return rows


def _update_timezones(forecasts: list[tuple[GridPoint, LocationForecast]]) -> None:
    """Each place's zone as Open-Meteo resolves it (for showing local times): one UPDATE per zone
    that changed, which after a place's first collection is none."""
    moved = defaultdict(list)
    for point, forecast in forecasts:
        for location in point.locations:
            if forecast.timezone and forecast.timezone != location.timezone:
                moved[forecast.timezone].append(location)
    for zone, locations in moved.items():
        Location.objects.filter(pk__in=[location.pk for location in locations]).update(timezone=zone)
        for location in locations:
            location.timezone = zone


def cleanup(before) -> int:
    deleted, _ = WeatherForecast.objects.filter(target_time__lt=before).delete()
    return deleted
