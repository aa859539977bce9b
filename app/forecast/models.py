from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Built once: available_timezones() reads tzdata's list and walks the system's zoneinfo on every call.
TIME_ZONES = frozenset(available_timezones())


def validate_timezone(name: str) -> None:
    if name and name not in TIME_ZONES:
        raise ValidationError(f"{name} is not a time zone name (e.g. Europe/Berlin).")


class Location(models.Model):
    """A place a user follows. Every query goes through `owned_by` so nobody sees another's places."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=100, blank=True)
    latitude = models.DecimalField(
        max_digits=8, decimal_places=5, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=8, decimal_places=5, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    timezone = models.CharField(
        "time zone",
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="IANA name, as Open-Meteo resolves the coordinates (e.g. Europe/Berlin); "
        "empty: not known yet, UTC is shown.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "latitude", "longitude"], name="location_unique_per_user")
        ]

    def __str__(self):
        return f"{self.name}, {self.country}" if self.country else self.name

    @classmethod
    def owned_by(cls, user):
        return cls.objects.filter(user=user)

    @property
    def tz(self) -> tzinfo:
        """The zone in which pages and e-mails show this place's hours (stored times stay UTC)."""
        return ZoneInfo(self.timezone) if self.timezone else UTC


class WeatherForecast(models.Model):
    """One forecast hour for a location, upserted on (location, target_time) by collect_weather_data."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="forecasts")
    target_time = models.DateTimeField(db_index=True)
    temperature = models.FloatField(help_text="°C at 2 m")
    humidity = models.FloatField(help_text="relative humidity at 2 m, %")
    pressure_msl = models.FloatField(help_text="sea-level pressure, hPa")
    surface_pressure = models.FloatField(null=True, blank=True, help_text="hPa")
    precipitation = models.FloatField(default=0, help_text="mm in the hour")
    cloud_cover = models.FloatField(null=True, blank=True, help_text="%")
    wind_speed = models.FloatField(null=True, blank=True, help_text="km/h at 10 m")
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["location", "target_time"]
        constraints = [
            models.UniqueConstraint(fields=["location", "target_time"], name="forecast_unique_location_hour")
        ]

    def __str__(self):
        return f"{self.location} @ {self.target_time:%Y-%m-%d %H:%M}"


class PredictionType(models.TextChoices):
    MIGRAINE = "MIGRAINE", "Migraine"
    SINUSITIS = "SINUSITIS", "Sinusitis"


class RiskLevel(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"


class Prediction(models.Model):
    """A risk level for one user's location, type and window, with what drove it."""

    class Source(models.TextChoices):
        LLM = "llm", "Language model"
        RULES = "rules", "Rules"

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="predictions")
    prediction_type = models.CharField(max_length=10, choices=PredictionType.choices)
    risk_level = models.CharField(max_length=6, choices=RiskLevel.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    source = models.CharField(max_length=5, choices=Source.choices)
    confidence = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    rationale = models.TextField(blank=True)
    prevention_tips = models.JSONField(default=list, blank=True)
    # [{"name": "pressure_change", "label": ..., "value": ..., "score": ..., "detail": ...}, ...]
    factors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-window_start", "prediction_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "prediction_type", "window_start"], name="prediction_unique_window"
            )
        ]
        indexes = [models.Index(fields=["notified_at", "risk_level"])]

    def __str__(self):
        return (
            f"{self.get_prediction_type_display()} {self.risk_level} for {self.location} "
            f"at {self.window_start:%Y-%m-%d %H:%M}"
        )


class Notification(models.Model):
    """One combined e-mail sent to a user; its predictions are never e-mailed again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    predictions = models.ManyToManyField(Prediction, related_name="notifications")
    subject = models.CharField(max_length=200)
    sent_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self):
        return f"{self.subject} to {self.user} at {self.sent_at:%Y-%m-%d %H:%M}"


class ComparisonReport(models.Model):
    """How a location's stored forecasts compared with what was observed over a span of past hours."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="comparison_reports")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    hours_compared = models.PositiveIntegerField()
    mean_abs_temperature_diff = models.FloatField(null=True)
    max_abs_temperature_diff = models.FloatField(null=True)
    mean_abs_humidity_diff = models.FloatField(null=True)
    mean_abs_pressure_diff = models.FloatField(null=True)
    # [{"time": iso, "field": "temperature", "forecast": ..., "actual": ..., "diff": ...}, ...]
    anomalies = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_end"]
        constraints = [models.UniqueConstraint(fields=["location", "period_end"], name="comparison_unique_period")]

    def __str__(self):
        return f"Forecast vs actual for {self.location}, {self.period_start:%Y-%m-%d %H:%M} to {self.period_end:%H:%M}"
