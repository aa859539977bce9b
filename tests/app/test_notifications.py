"""Combined alert e-mails through a real SMTP server, within each user's limits."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import HealthProfile
from forecast.models import Location, Notification, Prediction
from tests.app.helpers import add_location, run_command


def predict(location, prediction_type="MIGRAINE", level="HIGH", start_in=3, tips=("Drink water.",)):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=start_in)
    return Prediction.objects.create(
        location=location,
        prediction_type=prediction_type,
        risk_level=level,
        window_start=start,
        window_end=start + timedelta(hours=3),
        source="rules",
        confidence=0.8,
        rationale=f"{level} because pressure falls",
        prevention_tips=list(tips),
        factors=[],
    )


def parts(message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_one_combined_email_for_all_new_medium_and_high_predictions(location, user, smtp):
    second = add_location(user)
    predict(location, "MIGRAINE", "HIGH")
    predict(location, "SINUSITIS", "MEDIUM")
    predict(second, "MIGRAINE", "HIGH")
    predict(second, "SINUSITIS", "LOW")
    status, output = run_command("process_notifications")
    assert status == 0, output
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "jane@example.com"
    assert message["Subject"] == "Migraine Forecast: 2 high, 1 medium risk ahead"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "Berlin: Migraine risk HIGH" in parts["text/plain"]
    assert "<strong>HIGH</strong>" in parts["text/html"]
    assert "LOW" not in parts["text/plain"]
    assert Prediction.objects.filter(notified_at__isnull=False).count() == 3
    assert Notification.objects.get().predictions.count() == 3


def test_each_prediction_is_emailed_at_most_once(location, smtp):
    HealthProfile.objects.filter(user=location.user).update(notification_min_gap_hours=0)
    predict(location)
    run_command("process_notifications")
    run_command("process_notifications")
    assert len(smtp.messages) == 1


def test_opt_out_per_prediction_type(location, smtp):
    HealthProfile.objects.filter(user=location.user).update(email_migraine=False)
    predict(location, "MIGRAINE", "HIGH")
    status, output = run_command("process_notifications")
    assert status == 0 and "opted out" in output
    assert smtp.messages == []
    predict(location, "SINUSITIS", "HIGH")
    run_command("process_notifications")
    assert "Sinusitis risk HIGH" in smtp.messages[0].get_payload()[0].get_payload(decode=True).decode()


@pytest.mark.parametrize(
    "limits, held_back",
    [
        ({"notification_min_gap_hours": 3}, "1 waiting: last e-mail was less than 3 h ago"),
        ({"notification_min_gap_hours": 0, "daily_notification_limit": 1}, "1 waiting: daily limit reached (1/1)"),
    ],
    ids=["minimum-gap", "daily-limit"],
)
def test_a_second_alert_waits_for_the_users_limits(location, smtp, limits, held_back):
    HealthProfile.objects.filter(user=location.user).update(**limits)
    predict(location, start_in=3)
    run_command("process_notifications")
    predict(location, start_in=5)
    status, output = run_command("process_notifications")
    assert held_back in output
    assert len(smtp.messages) == 1


def test_dry_run_sends_nothing(location, smtp):
    predict(location)
    status, output = run_command("process_notifications", "--dry-run")
    assert "would send" in output and "1 high risk ahead" in output
    assert smtp.messages == [] and not Prediction.objects.filter(notified_at__isnull=False).exists()


@pytest.mark.parametrize("pii", [False, True], ids=["pii-off", "pii-on"])
def test_smtp_failure_is_reported_with_the_email_context(location, smtp, sentry_init, pii):
    sentry = sentry_init(send_default_pii=pii)
    smtp.refuse("451 4.3.0 Mail server temporarily unavailable")
    predict(location)
    status, output = run_command("process_notifications")
    assert status == 1 and "SMTPDataError" in output
    # Nothing was marked as sent: the next run tries again.
    assert not Prediction.objects.filter(notified_at__isnull=False).exists()
    assert not Notification.objects.exists()
    event = sentry.wait_for(lambda e: "email" in e.get("contexts", {}))
    context = event["contexts"]["email"]
    assert context["subject"] == "Migraine Forecast: 1 high risk ahead"
    assert context["prediction_count"] == 1
    assert event["exception"]["values"][-1]["type"] == "SMTPDataError"
    if pii:
        assert context["recipient"] == "jane@example.com"
    else:
        assert "recipient" not in context
        assert b"jane@example.com" not in sentry.raw_bodies()


def test_one_entry_per_place_and_condition_and_each_tip_once(location, user, smtp):
    """A change of the prediction window left four un-notified Berlin migraine predictions behind."""
    hamburg = add_location(user)
    for start_in, level in ((3, "MEDIUM"), (4, "HIGH"), (10, "MEDIUM"), (12, "HIGH")):
        predict(location, "MIGRAINE", level, start_in=start_in, tips=["Drink water.", "Sleep well."])
    predict(location, "SINUSITIS", "MEDIUM", tips=["Drink water.", "Rinse your nose."])
    predict(hamburg, "MIGRAINE", "MEDIUM", tips=["Sleep well."])
    status, output = run_command("process_notifications")
    assert status == 0, output
    message = smtp.messages[0]
    assert message["Subject"] == "Migraine Forecast: 1 high, 2 medium risk ahead"
    text = parts(message)["text/plain"]
    assert text.count("- Berlin: Migraine risk") == 1 and "- Berlin: Migraine risk HIGH" in text
    assert text.count("- Berlin: Sinusitis risk MEDIUM") == 1 and text.count("- Hamburg: Migraine risk MEDIUM") == 1
    for tip in ("Drink water.", "Sleep well.", "Rinse your nose."):
        assert text.count(tip) == 1 and parts(message)["text/html"].count(tip) == 1
    # All six count as sent: none of them comes again.
    assert not Prediction.objects.filter(notified_at__isnull=True).exists()
    assert Notification.objects.get().predictions.count() == 6


def test_email_shows_each_places_local_time(location, user, smtp):
    Location.objects.filter(pk=location.pk).update(timezone="Asia/Tokyo")
    prediction = predict(location)
    run_command("process_notifications")
    start = prediction.window_start.astimezone(ZoneInfo("Asia/Tokyo"))
    end = prediction.window_end.astimezone(ZoneInfo("Asia/Tokyo"))
    text = parts(smtp.messages[0])["text/plain"]
    assert f"{start:%a %H:%M}-{end:%H:%M} JST" in text and "UTC" not in text
    assert f"{start:%a %H:%M}–{end:%H:%M} JST" in parts(smtp.messages[0])["text/html"]
