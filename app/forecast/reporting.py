"""The guide's Sentry use cases, called from the code paths where they happen.

Each function reports one kind of failure with the tags and context that make it searchable
in GlitchTip; the caller then carries on (one bad location never stops a job).
"""

from __future__ import annotations

import sentry_sdk
from django.conf import settings

# Sentry keeps tag values up to 200 characters.
TAG_VALUE_MAX = 200


def tag_location(scope, location) -> None:
    """The guide's `location` tag is what people filter by, the place's name; its id is `location_id`."""
    scope.set_tag("location", location.name[:TAG_VALUE_MAX])
    scope.set_tag("location_id", str(location.pk))


def report_weather_failure(exc, location=None, *, locations=()) -> str | None:
    """An Open-Meteo call failed: the exception with a weather_api context. A batched request that
    failed for many `locations` is one event (their count and first ids in the context), not one each."""
    locations = list(locations) or ([location] if location is not None else [])
    context = exc.context
    if len(locations) > 1:
        context = {**context, "location_count": len(locations), "location_ids": [loc.pk for loc in locations[:20]]}
    with sentry_sdk.new_scope() as scope:
        scope.set_context("weather_api", context)
        if len(locations) == 1:
            tag_location(scope, locations[0])
        scope.set_tag("weather_api.status_code", str(exc.status or "none"))
        return sentry_sdk.capture_exception(exc)


def report_llm_failure(exc, prediction_type: str, location) -> str | None:
    """The LLM failed and the rules were used instead."""
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("llm_model", settings.LLM_MODEL)
        scope.set_tag("prediction_failed", "true")
        scope.set_tag("prediction_type", prediction_type)
        tag_location(scope, location)
        scope.set_context("llm", {"model": settings.LLM_MODEL, "base_url": settings.LLM_BASE_URL, "fallback": "rules"})
        return sentry_sdk.capture_exception(exc)


def report_email_failure(exc, user, subject: str, prediction_count: int) -> str | None:
    """A notification e-mail could not be sent; the address only goes out when PII is allowed."""
    context = {
        "subject": subject,
        "prediction_count": prediction_count,
        "backend": settings.EMAIL_BACKEND.rsplit(".", 1)[-1],
        "user_id": user.pk,
    }
    if settings.SENTRY.send_default_pii:
        context["recipient"] = user.email
    with sentry_sdk.new_scope() as scope:
        scope.set_context("email", context)
        scope.set_tag("notification", "email")
        return sentry_sdk.capture_exception(exc)


def report_anomaly(location, anomalies: list[dict]) -> str | None:
    """Forecast and observation disagree by more than the threshold: a warning, not an error."""
    worst = max(anomalies, key=lambda a: abs(a["diff"]))
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("data_quality", "anomaly")
        tag_location(scope, location)
        scope.set_context(
            "data_quality",
            {
                "location": str(location),
                "threshold": settings.ANOMALY_TEMPERATURE_DELTA,
                "anomaly_count": len(anomalies),
                "worst": worst,
            },
        )
        # One issue per location rather than one per differing hour.
        scope.fingerprint = ["data-quality-anomaly", str(location.pk)]
        return sentry_sdk.capture_message(
            f"Forecast anomaly at {location.name}: temperature off by {abs(worst['diff']):.1f} °C",
            level="warning",
        )


class ReportedError(Exception):
    """A failure that has already been sent to Sentry with its own context; callers only count it."""
