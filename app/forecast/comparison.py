"""Forecast versus actual: compare stored forecasts with what Open-Meteo reports for past hours."""

from __future__ import annotations

from datetime import timedelta
from statistics import mean

import sentry_sdk
from django.conf import settings
from django.utils import timezone

from forecast import open_meteo
from forecast.models import ComparisonReport
from forecast.reporting import report_anomaly


def _mean_abs(values):
    return round(mean(abs(v) for v in values), 2) if values else None


def compare(location, *, hours: int = 24, now=None, dry_run: bool = False) -> str:
    """Compare the last `hours` for `location`; stores or updates one report per period end."""
    end = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours)
    observed = open_meteo.fetch_hourly(
        float(location.latitude), float(location.longitude), past_hours=hours, forecast_hours=1
    ).hours
    actual_by_time = {h.time: h for h in observed if start <= h.time < end}
    with sentry_sdk.start_span(op="db.query", name="stored forecasts for past hours"):
        forecasts = list(location.forecasts.filter(target_time__gte=start, target_time__lt=end))
    pairs = [(f, actual_by_time[f.target_time]) for f in forecasts if f.target_time in actual_by_time]
    temperature = [f.temperature - a.temperature for f, a in pairs]
    anomalies = [
        {
            "time": f.target_time.isoformat(),
            "field": "temperature",
            "forecast": f.temperature,
            "actual": a.temperature,
            "diff": round(f.temperature - a.temperature, 2),
        }
        for f, a in pairs
        if abs(f.temperature - a.temperature) > settings.ANOMALY_TEMPERATURE_DELTA
    ]
    summary = f"{len(pairs)} hours compared, {len(anomalies)} anomalies"
    if temperature:
        summary += f", mean |Δt| {_mean_abs(temperature)} °C"
    if dry_run:
        return summary + " (dry run, nothing stored)"
    values = {
        "period_start": start,
        "hours_compared": len(pairs),
        "mean_abs_temperature_diff": _mean_abs(temperature),
        "max_abs_temperature_diff": round(max(abs(t) for t in temperature), 2) if temperature else None,
        "mean_abs_humidity_diff": _mean_abs([f.humidity - a.humidity for f, a in pairs]),
        "mean_abs_pressure_diff": _mean_abs([f.pressure_msl - a.pressure_msl for f, a in pairs]),
        "anomalies": anomalies,
    }
    previous = ComparisonReport.objects.filter(location=location, period_end=end).first()
    ComparisonReport.objects.update_or_create(location=location, period_end=end, defaults=values)
    # Re-running for the same period reports an anomaly only once.
    if anomalies and (previous is None or previous.anomalies != anomalies):
        report_anomaly(location, anomalies)
    return summary


def cleanup(before) -> int:
    deleted, _ = ComparisonReport.objects.filter(period_end__lt=before).delete()
    return deleted
