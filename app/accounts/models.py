from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SENSITIVITY_CHOICES = [(0, "Not sensitive"), (1, "Normal"), (2, "Sensitive"), (3, "Very sensitive")]
HOURS = [MinValueValidator(1), MaxValueValidator(72)]


def sensitivity_field(label, help_text):
    return models.PositiveSmallIntegerField(label, choices=SENSITIVITY_CHOICES, default=1, help_text=help_text)


class HealthProfile(models.Model):
    """What weather a user reacts to, and how and when they want to hear about it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="health_profile")
    sensitivity_overall = sensitivity_field(
        "Weather in general", "Makes every kind of weather below count more or less for you."
    )
    sensitivity_temperature = sensitivity_field("Temperature swings", "It gets much warmer or colder within hours.")
    sensitivity_humidity = sensitivity_field("Very damp or very dry air", "Humidity near 100 %, or below 30 %.")
    sensitivity_pressure = sensitivity_field(
        "Changing air pressure", "Pressure rises or falls quickly, as when the weather turns."
    )
    sensitivity_low_pressure = sensitivity_field("Low air pressure", "Deep lows bring stormy, unsettled weather.")
    sensitivity_precipitation = sensitivity_field("Rain and snow", "Rain or snow over the coming hours.")
    sensitivity_cloud_cover = sensitivity_field("Grey, overcast skies", "Long spells without sun.")
    email_migraine = models.BooleanField("E-mail me when my migraine risk is medium or high", default=True)
    email_sinusitis = models.BooleanField("E-mail me when my sinusitis risk is medium or high", default=True)
    daily_notification_limit = models.PositiveSmallIntegerField(
        "Most alert e-mails per day",
        default=2,
        validators=[MinValueValidator(0), MaxValueValidator(24)],
        help_text="0 turns alert e-mails off.",
    )
    notification_min_gap_hours = models.PositiveSmallIntegerField(
        "Minimum hours between alerts",
        default=3,
        validators=[MaxValueValidator(48)],
        help_text="After an alert e-mail, the next one waits at least this long.",
    )
    window_start_hours = models.PositiveSmallIntegerField(
        "Look ahead from (hours from now)",
        default=3,
        validators=HOURS,
        help_text="Each prediction covers a span of hours: it starts this many hours from now...",
    )
    window_end_hours = models.PositiveSmallIntegerField(
        "Look ahead until (hours from now)",
        default=6,
        validators=HOURS,
        help_text="...and ends this many hours from now (at most 72).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_start_hours__lt=models.F("window_end_hours")),
                name="health_profile_window_start_before_end",
            )
        ]

    def __str__(self):
        return f"Health profile of {self.user}"

    def clean(self):
        if self.window_start_hours is not None and self.window_end_hours is not None:
            if self.window_start_hours >= self.window_end_hours:
                raise ValidationError({"window_end_hours": "The window must end after it starts."})

    def sensitivity(self, factor: str) -> int:
        return getattr(self, f"sensitivity_{factor}")

    def wants_email(self, prediction_type: str) -> bool:
        return getattr(self, f"email_{prediction_type.lower()}")

    @classmethod
    def for_user(cls, user) -> "HealthProfile":
        profile, _ = cls.objects.get_or_create(user=user)
        return profile
