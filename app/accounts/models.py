from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SENSITIVITY_CHOICES = [(0, "Not sensitive"), (1, "Normal"), (2, "Sensitive"), (3, "Very sensitive")]
HOURS = [MinValueValidator(1), MaxValueValidator(72)]


def sensitivity_field(label):
    return models.PositiveSmallIntegerField(label, choices=SENSITIVITY_CHOICES, default=1)


class HealthProfile(models.Model):
    """What weather a user reacts to, and how and when they want to hear about it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="health_profile")
    sensitivity_overall = sensitivity_field("overall sensitivity")
    sensitivity_temperature = sensitivity_field("temperature changes")
    sensitivity_humidity = sensitivity_field("humidity extremes")
    sensitivity_pressure = sensitivity_field("pressure changes")
    sensitivity_low_pressure = sensitivity_field("low pressure")
    sensitivity_precipitation = sensitivity_field("precipitation")
    sensitivity_cloud_cover = sensitivity_field("cloud cover")
    email_migraine = models.BooleanField("e-mail me migraine alerts", default=True)
    email_sinusitis = models.BooleanField("e-mail me sinusitis alerts", default=True)
    daily_notification_limit = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(0), MaxValueValidator(24)], help_text="E-mails per day at most (0: none)."
    )
    notification_min_gap_hours = models.PositiveSmallIntegerField(
        default=3, validators=[MaxValueValidator(48)], help_text="Hours at least between two e-mails."
    )
    window_start_hours = models.PositiveSmallIntegerField(
        default=3, validators=HOURS, help_text="Predict from this many hours ahead..."
    )
    window_end_hours = models.PositiveSmallIntegerField(
        default=6, validators=HOURS, help_text="...up to this many hours ahead."
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
