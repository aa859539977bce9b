"""Turning stored forecasts into migraine and sinusitis predictions for a user's window."""
from __future__ import annotations

from datetime import timedelta

import sentry_sdk
from django.utils import timezone

from accounts.models import HealthProfile
from forecast import llm, rules
from forecast.models import Prediction, PredictionType
from forecast.reporting import report_llm_failure


def window_for(profile: HealthProfile, now=None):
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=profile.window_start_hours), hour + timedelta(hours=profile.window_end_hours)


def assess(location, profile: HealthProfile, prediction_type: str, hours) -> rules.Assessment:
    """The LLM's assessment when it is configured and answers sensibly, else the rules'."""
    by_rules = rules.predict(hours, profile, prediction_type)
    if not llm.is_configured() or len(hours) < 2:
        return by_rules
    try:
        return llm.predict(prediction_type, location, by_rules.factors, profile)
    except llm.LLMError as exc:
        report_llm_failure(exc, prediction_type, location)
        return by_rules


def generate(location, *, now=None, dry_run: bool = False) -> str:
    """Predict both types for the owner's window; upserts on (location, type, window start)."""
    profile = HealthProfile.for_user(location.user)
    now = now or timezone.now()
    start, end = window_for(profile, now)
    with sentry_sdk.start_span(op="db.query", name="forecast hours for prediction window"):
        # From now, so that the change leading into the window counts too.
        hours = list(location.forecasts.filter(target_time__gte=now.replace(minute=0, second=0, microsecond=0),
                                               target_time__lte=end))
    results = []
    for prediction_type in PredictionType.values:
        sentry_sdk.set_tag("prediction_type", prediction_type)
        assessment = assess(location, profile, prediction_type, hours)
        results.append(f"{prediction_type.lower()} {assessment.level} ({assessment.source})")
        if dry_run:
            continue
        values = {"window_end": end, "risk_level": assessment.level, "source": assessment.source,
                  "confidence": assessment.confidence, "rationale": assessment.rationale,
                  "prevention_tips": assessment.prevention_tips, "factors": assessment.factors}
        prediction, created = Prediction.objects.get_or_create(
            location=location, prediction_type=prediction_type, window_start=start, defaults=values
        )
        if not created and prediction.notified_at is None:
            # Refresh with newer forecasts until the user has been told about it.
            for field, value in values.items():
                setattr(prediction, field, value)
            prediction.save()
    suffix = " (dry run, nothing stored)" if dry_run else ""
    return ", ".join(results) + f" for {start:%H:%M}-{end:%H:%M} UTC from {len(hours)} hours" + suffix


def cleanup(before) -> int:
    deleted, _ = Prediction.objects.filter(window_end__lt=before).delete()
    return deleted
