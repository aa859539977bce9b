"""One combined e-mail per user for new MEDIUM/HIGH predictions, within the user's limits."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import HealthProfile
from forecast.models import Notification, Prediction, RiskLevel
from forecast.reporting import ReportedError, report_email_failure


def users_with_pending(now=None):
    """Users who have at least one un-notified MEDIUM/HIGH prediction whose window is not over."""
    now = now or timezone.now()
    return (
        get_user_model()
        .objects.filter(
            locations__predictions__notified_at__isnull=True,
            locations__predictions__risk_level__in=[RiskLevel.MEDIUM, RiskLevel.HIGH],
            locations__predictions__window_end__gt=now,
        )
        .distinct()
        .order_by("pk")
    )


def pending_predictions(user, profile: HealthProfile, now) -> list[Prediction]:
    candidates = (
        Prediction.objects.filter(
            location__user=user,
            notified_at__isnull=True,
            risk_level__in=[RiskLevel.MEDIUM, RiskLevel.HIGH],
            window_end__gt=now,
        )
        .select_related("location")
        .order_by("window_start", "location__name", "prediction_type")
    )
    return [p for p in candidates if profile.wants_email(p.prediction_type)]


def holdback_reason(user, profile: HealthProfile, now) -> str | None:
    """Why nothing may be sent now (daily limit, minimum gap, no address), or None."""
    if not user.email:
        return "no e-mail address"
    if profile.daily_notification_limit == 0:
        return "e-mails are off (daily limit 0)"
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = user.notifications.filter(sent_at__gte=day_start).count()
    if sent_today >= profile.daily_notification_limit:
        return f"daily limit reached ({sent_today}/{profile.daily_notification_limit})"
    last = user.notifications.order_by("-sent_at").first()
    if last and now - last.sent_at < timedelta(hours=profile.notification_min_gap_hours):
        return f"last e-mail was less than {profile.notification_min_gap_hours} h ago"
    return None


def one_per_place_and_condition(predictions: list[Prediction]) -> list[Prediction]:
    """The prediction to tell about for each place and condition: the highest level, then the earliest.

    A change of the user's window, or several hourly runs, leave several un-notified predictions
    for the same place and condition; the e-mail lists the place once (all of them count as sent).
    """
    chosen: dict[tuple[int, str], Prediction] = {}
    for p in sorted(predictions, key=lambda p: p.window_start):
        key = (p.location_id, p.prediction_type)
        if key not in chosen or RiskLevel.values.index(p.risk_level) > RiskLevel.values.index(chosen[key].risk_level):
            chosen[key] = p
    return sorted(chosen.values(), key=lambda p: (p.location.name.lower(), p.location_id, p.prediction_type))


def tips_of(predictions: list[Prediction]) -> list[str]:
    """Every distinct tip once, in the order they first appear."""
    return list(dict.fromkeys(tip for p in predictions for tip in p.prevention_tips))


def subject_for(predictions: list[Prediction]) -> str:
    high = sum(p.risk_level == RiskLevel.HIGH for p in predictions)
    medium = len(predictions) - high
    counts = ", ".join(part for part in (f"{high} high" if high else "", f"{medium} medium" if medium else "") if part)
    return f"Migraine Forecast: {counts} risk ahead"


def notify(user, *, now=None, dry_run: bool = False) -> str:
    """Send the user's combined e-mail if anything is due; returns a one-line summary."""
    now = now or timezone.now()
    profile = HealthProfile.for_user(user)
    predictions = pending_predictions(user, profile, now)
    if not predictions:
        return "nothing to send (opted out)"
    reason = holdback_reason(user, profile, now)
    if reason:
        return f"{len(predictions)} waiting: {reason}"
    alerts = one_per_place_and_condition(predictions)
    subject = subject_for(alerts)
    if dry_run:
        return f"would send '{subject}' ({len(predictions)} predictions)"
    context = {"user": user, "alerts": alerts, "tips": tips_of(alerts), "app_url": settings.APP_PUBLIC_URL}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("forecast/email/alert.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("forecast/email/alert.html", context), "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        report_email_failure(exc, user, subject, len(predictions))
        raise ReportedError(f"e-mail not sent: {exc.__class__.__name__}: {exc}") from exc
    notification = Notification.objects.create(user=user, subject=subject, sent_at=now)
    notification.predictions.set(predictions)
    Prediction.objects.filter(pk__in=[p.pk for p in predictions]).update(notified_at=now)
    return f"sent '{subject}' ({len(predictions)} predictions)"
