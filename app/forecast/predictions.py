"""Turning stored forecasts into migraine and sinusitis predictions for each owner's window.

Locations go in chunks: per chunk, the owners' profiles in one query, the forecast hours of each
window (its first to its last hour) in one query per distinct window, the rules in memory, the
LLM (when configured) for at most LLM_MAX_CALLS_PER_RUN predictions per run with LLM_CONCURRENCY
requests at a time, and one bulk upsert in one database transaction. A prediction that was
already e-mailed is left as it was; the others are refreshed with the newer forecasts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import sentry_sdk
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import HealthProfile
from forecast import llm, rules, workers
from forecast.models import Location, Prediction, PredictionType, RiskLevel, WeatherForecast
from forecast.reporting import report_llm_failure

# Locations per chunk: a few queries and one transaction each, and a progress line.
CHUNK_SIZE = 500
HOUR_FIELDS = ("location_id", "target_time", "temperature", "humidity", "pressure_msl", "precipitation", "cloud_cover")
UPDATED_FIELDS = [
    "window_end",
    "risk_level",
    "source",
    "confidence",
    "rationale",
    "prevention_tips",
    "factors",
    "updated_at",
]


@dataclass
class LLMBudget:
    """How many LLM calls one run may still make; past it the rules predict."""

    limit: int
    used: int = 0
    failed: int = 0
    over: int = 0  # predictions made by the rules because the budget was spent

    def take(self) -> bool:
        if self.used < self.limit:
            self.used += 1
            return True
        self.over += 1
        return False

    def __str__(self):
        text = f"LLM: {self.used} call(s) of a budget of {self.limit}, {self.failed} failed (rules used)"
        if self.over:
            text += f"; budget spent: {self.over} prediction(s) by the rules instead"
        return text


@dataclass
class ChunkResult:
    number: int
    chunks: int
    locations: int
    dry_run: bool
    stored: int = 0  # (or would be, in a dry run)
    kept: int = 0  # already e-mailed, left as they were
    by_llm: int = 0  # of the stored ones
    levels: Counter = field(default_factory=Counter)  # of the stored ones
    failures: list[tuple[Location, Exception]] = field(default_factory=list)

    def __str__(self):
        levels = ", ".join(f"{level} {self.levels[level]}" for level in RiskLevel.values if self.levels[level])
        stored = f"{self.stored} prediction(s) {'made (dry run, nothing stored)' if self.dry_run else 'stored'}"
        text = f"{self.locations} location(s): {stored} ({levels or 'none'}; {self.by_llm} by the LLM)"
        if self.kept:
            text += f", {self.kept} already e-mailed kept"
        return text + (f", {len(self.failures)} failed" if self.failures else "")


def window_for(profile: HealthProfile, now=None):
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=profile.window_start_hours), hour + timedelta(hours=profile.window_end_hours)


def generate(location, *, now=None) -> ChunkResult:
    """One place's predictions, now (adding or refreshing it); raises what failed."""
    (result,) = generate_all([location], now=now, budget=LLMBudget(settings.LLM_MAX_CALLS_PER_RUN))
    if result.failures:
        raise result.failures[0][1]
    return result


def generate_all(locations: list, *, budget: LLMBudget, now=None, dry_run: bool = False) -> Iterator[ChunkResult]:
    """Predict both types for every location (with its `user` loaded), chunk by chunk."""
    now = now or timezone.now()
    chunks = [locations[start : start + CHUNK_SIZE] for start in range(0, len(locations), CHUNK_SIZE)]
    with ThreadPoolExecutor(max_workers=settings.LLM_CONCURRENCY, thread_name_prefix="llm") as pool:
        for number, chunk in enumerate(chunks, 1):
            result = ChunkResult(number, len(chunks), len(chunk), dry_run)
            try:
                _generate_chunk(chunk, now, budget, pool, result)
            except Exception as exc:  # the database refused the chunk: its locations failed, the run goes on
                result = ChunkResult(
                    number, len(chunks), len(chunk), dry_run, failures=[(location, exc) for location in chunk]
                )
            yield result


def _generate_chunk(locations: list, now, budget: LLMBudget, pool: ThreadPoolExecutor, result: ChunkResult) -> None:
    profiles = _profiles({location.user_id for location in locations}, create=not result.dry_run)
    windows = {location.pk: window_for(profiles[location.user_id], now) for location in locations}
    hours = _forecast_hours(locations, windows)
    assessments: dict[tuple, rules.Assessment] = {}
    for location in locations:
        profile = profiles[location.user_id]
        try:
            by_type = {kind: rules.predict(hours[location.pk], profile, kind) for kind in PredictionType.values}
        except Exception as exc:  # one bad location never stops the others
            result.failures.append((location, exc))
            continue
        assessments.update({(location, kind): assessment for kind, assessment in by_type.items()})
    _ask_llm(assessments, hours, profiles, budget, pool)
    predictions = []
    for (location, kind), assessment in assessments.items():
        start, end = windows[location.pk]
        predictions.append(
            Prediction(
                location=location,
                prediction_type=kind,
                window_start=start,
                window_end=end,
                risk_level=assessment.level,
                source=assessment.source,
                confidence=assessment.confidence,
                rationale=assessment.rationale,
                prevention_tips=assessment.prevention_tips,
                factors=assessment.factors,
            )
        )
    written = predictions if result.dry_run else _store(predictions)
    result.stored, result.kept = len(written), len(predictions) - len(written)
    result.levels = Counter(prediction.risk_level for prediction in written)
    result.by_llm = sum(prediction.source == "llm" for prediction in written)


def _profiles(user_ids: set, *, create: bool) -> dict:
    """Each owner's health profile; an owner without one gets the defaults (stored unless `create` is false)."""
    profiles = {profile.user_id: profile for profile in HealthProfile.objects.filter(user_id__in=user_ids)}
    missing = [HealthProfile(user_id=user_id) for user_id in user_ids - profiles.keys()]
    if missing and create:
        HealthProfile.objects.bulk_create(missing, ignore_conflicts=True)
    return profiles | {profile.user_id: profile for profile in missing}


def _forecast_hours(locations: list, windows: dict) -> dict[int, list]:
    """location id -> the forecast hours of its window, the first and the last hour included: the
    hours the prediction names, so that its text and the page's hourly table tell the same figures.
    One query per distinct window."""
    by_window = defaultdict(list)
    for location in locations:
        by_window[windows[location.pk]].append(location.pk)
    hours = defaultdict(list)
    with sentry_sdk.start_span(op="db.query", name="forecast hours for prediction windows"):
        for (start, end), ids in by_window.items():
            rows = (
                WeatherForecast.objects.filter(location_id__in=ids, target_time__gte=start, target_time__lte=end)
                .order_by("location_id", "target_time")
                .values_list(*HOUR_FIELDS, named=True)
            )
            for row in rows:
                hours[row.location_id].append(row)
    return hours


def _ask_llm(assessments: dict, hours: dict, profiles: dict, budget: LLMBudget, pool: ThreadPoolExecutor) -> None:
    """Replace the rules' assessments with the LLM's where it answers sensibly, within the budget."""
    if not llm.is_configured():
        return
    asked = [key for key in assessments if len(hours[key[0].pk]) >= 2 and budget.take()]

    @workers.in_job_scope
    def ask(key):
        location, kind = key
        try:
            return llm.predict(kind, location, assessments[key].factors, profiles[location.user_id])
        except llm.LLMError as exc:
            return exc

    for key, answer in zip(asked, pool.map(ask, asked), strict=True):
        if isinstance(answer, llm.LLMError):
            budget.failed += 1
            report_llm_failure(answer, key[1], key[0])
        else:
            assessments[key] = answer


def _store(predictions: list[Prediction]) -> list[Prediction]:
    """Upsert on (location, type, window start), except the ones already e-mailed; returns those written."""
    if not predictions:
        return []
    with sentry_sdk.start_span(op="db.upsert", name="predictions bulk upsert"), transaction.atomic():
        notified = set(
            Prediction.objects.filter(
                location__in={p.location_id for p in predictions},
                window_start__in={p.window_start for p in predictions},
                notified_at__isnull=False,
            ).values_list("location_id", "prediction_type", "window_start")
        )
        fresh = [p for p in predictions if (p.location_id, p.prediction_type, p.window_start) not in notified]
        Prediction.objects.bulk_create(
            fresh,
            update_conflicts=True,
            unique_fields=["location", "prediction_type", "window_start"],
            update_fields=UPDATED_FIELDS,
        )
    return fresh


def cleanup(before) -> int:
    deleted, _ = Prediction.objects.filter(window_end__lt=before).delete()
    return deleted
