"""Storing Open-Meteo forecasts: one row per location and hour, upserted."""
from __future__ import annotations

from django.utils import timezone

from forecast import open_meteo
from forecast.models import Location, WeatherForecast

FIELDS = ("temperature", "humidity", "pressure_msl", "surface_pressure", "precipitation", "cloud_cover", "wind_speed")


def collect(location, *, hours: int = 72, dry_run: bool = False) -> str:
    """Fetch the next `hours` for `location` and upsert them; returns a one-line summary."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    forecast = open_meteo.fetch_hourly(float(location.latitude), float(location.longitude), forecast_hours=hours)
    rows = [
        WeatherForecast(location=location, target_time=h.time, fetched_at=timezone.now(),
                        **{field: getattr(h, field) for field in FIELDS})
        for h in forecast.hours
        if h.time >= now
    ]
    if dry_run:
        return f"{len(rows)} hours fetched (dry run, nothing stored)"
    if forecast.timezone and forecast.timezone != location.timezone:
        # The place's zone, as Open-Meteo resolves it, for showing local times.
        Location.objects.filter(pk=location.pk).update(timezone=forecast.timezone)
        location.timezone = forecast.timezone
    WeatherForecast.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["location", "target_time"],
        update_fields=[*FIELDS, "fetched_at"],
    )
    return f"{len(rows)} hours stored"


def cleanup(before) -> int:
    deleted, _ = WeatherForecast.objects.filter(target_time__lt=before).delete()
    return deleted
