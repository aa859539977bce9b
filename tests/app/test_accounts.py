"""The account: registration, profile, password change and reset by e-mail, export and deletion."""

import json
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.forms import PROFILE_GROUPS, HealthProfileForm
from accounts.models import HealthProfile
from forecast.models import ComparisonReport, Location, Notification, Prediction, WeatherForecast
from tests.app.helpers import add_location, run_command

PASSWORD = "a-Long-test-passw0rd"  # the `user` fixture's


NEW_PASSWORD = "a-Brand-new-passw0rd"


def plain_text(message) -> str:
    part = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def link_in(message, path=r"/accounts/\S+/") -> str:
    return re.search(rf"http://testserver({path})", plain_text(message))[1]


def register(client, email="sam@example.com"):
    return client.post(reverse("register"), {"email": email})


def finish(client, link, username="sam", password=NEW_PASSWORD, password2=None):
    return client.post(link, {"username": username, "password1": password, "password2": password2 or password})


def test_registration_answers_the_same_whether_the_address_is_known_or_not(user, smtp):
    known = register(Client(REMOTE_ADDR="10.0.0.5"), "Jane@Example.com")
    new = register(Client(REMOTE_ADDR="10.0.0.6"), "sam@example.com")
    assert (known.status_code, known.url) == (new.status_code, new.url) == (302, reverse("register_sent"))
    assert get_user_model().objects.count() == 1  # nothing is created before the address is confirmed
    mails = {message["To"]: message for message in smtp.messages}
    assert set(mails) == {"jane@example.com", "sam@example.com"}
    # The owner of the known address hears that someone tried, and how to get in.
    assert mails["jane@example.com"]["Subject"] == "Migraine Forecast: you already have an account"
    text = plain_text(mails["jane@example.com"])
    assert "Your user name is jane." in text and f"http://testserver{reverse('login')}" in text
    owner = Client()
    form = owner.get(link_in(mails["jane@example.com"], r"/accounts/password/reset/\S+/"), follow=True)
    done = owner.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.url == reverse("password_reset_complete")
    # The new address gets the link that finishes the registration.
    assert mails["sam@example.com"]["Subject"] == "Migraine Forecast: finish creating your account"
    assert link_in(mails["sam@example.com"]).startswith("/accounts/register/")


def test_the_sent_page_says_what_to_do_next(client, db, smtp):
    register(client)
    page = client.get(reverse("register_sent")).content.decode()
    assert "Check your inbox" in page and "within two hours" in page


def test_the_emailed_link_finishes_the_registration_once(client, db, smtp):
    register(client, "Sam@Example.com")
    link = link_in(smtp.messages[0])
    page = client.get(link).content.decode()
    assert "sam@example.com" in page and 'name="username"' in page and 'name="password1"' in page
    response = finish(client, link)
    assert response.status_code == 302 and response.url == reverse("profile")
    profile = HealthProfile.objects.get(user__username="sam")
    assert profile.user.email == "sam@example.com" and profile.user.check_password(NEW_PASSWORD)
    assert client.get(reverse("forecast:location-list")).status_code == 200
    # The link made its account; opened again, it says so and creates nothing.
    again = Client().get(link)
    assert "This link was used already" in again.content.decode()
    assert finish(Client(), link, username="sam2").status_code == 200
    assert get_user_model().objects.filter(email="sam@example.com").count() == 1


def test_an_old_or_altered_registration_link_creates_nothing(client, db, smtp, monkeypatch):
    three_hours_ago = signing.b62_encode(int(time.time()) - 3 * 3600)
    with monkeypatch.context() as patched:
        patched.setattr(signing.TimestampSigner, "timestamp", lambda self: three_hours_ago)
        register(client)
    expired = link_in(smtp.messages[0])
    for link in (expired, expired.replace("/register/", "/register/x")):
        page = client.get(link).content.decode()
        assert "This link no longer works" in page and 'name="password1"' not in page
        assert finish(client, link).status_code == 200
    assert not get_user_model().objects.exists()


def test_finishing_refuses_a_taken_user_name_and_mismatched_passwords(client, user, smtp):
    register(client)
    response = finish(client, link_in(smtp.messages[0]), username="jane", password="x", password2="y")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "username" in errors and "password2" in errors
    assert b"A user with that username already exists." in response.content
    assert not get_user_model().objects.filter(email="sam@example.com").exists()


def test_registration_refuses_what_is_not_an_e_mail_address(client, db, smtp):
    response = register(client, "sam at example.com")
    assert response.status_code == 200 and "email" in response.context["form"].errors
    assert smtp.messages == []


@pytest.mark.parametrize("password", [" " * 8, " " * 12 + "\t"], ids=["eight-spaces", "spaces-and-tab"])
def test_registration_refuses_a_password_of_only_spaces(client, db, smtp, password):
    register(client)
    response = finish(client, link_in(smtp.messages[0]), password=password)
    assert response.status_code == 200
    assert "Your password cannot be only spaces." in response.context["form"].errors["password2"]
    assert not get_user_model().objects.exists()


def test_registration_mails_count_in_the_mailboxs_share(user, smtp, settings):
    """Registering with someone's address mails them; a stranger cannot flood that mailbox this way either."""
    settings.RATELIMIT_PASSWORD_RESET = "2/h"
    for number in range(4):
        response = register(Client(REMOTE_ADDR=f"10.0.2.{number}"), "jane@example.com")
        assert response.url == reverse("register_sent")
    assert len(smtp.messages) == 2


def test_registration_from_one_address_is_limited_like_reset_e_mails(db, smtp, settings):
    settings.RATELIMIT_PASSWORD_RESET = "2/h"
    client = Client(REMOTE_ADDR="10.0.0.9")
    for number in range(2):
        register(client, f"person{number}@example.com")
    limited = register(client, "person9@example.com")
    assert limited.status_code == 429
    assert "Too many e-mails were asked for from your network just now." in limited.content.decode()
    assert len(smtp.messages) == 2


def test_a_logged_in_user_opening_the_login_page_is_sent_on(logged_in):
    response = logged_in.get(reverse("login"))
    assert response.status_code == 302 and response.url == reverse("forecast:location-list")
    assert logged_in.get(reverse("register")).url == reverse("forecast:location-list")


def test_profile_shows_the_account_and_explains_sensitivities_in_words(logged_in, user):
    page = logged_in.get(reverse("profile")).content.decode()
    assert '<dd class="long-text">jane</dd>' in page and '<dd class="long-text">jane@example.com</dd>' in page
    assert "0 to 3" not in page and "from 0" not in page
    for words in (
        "Not sensitive",
        "Very sensitive",
        "it counts twice",
        "Changing air pressure",
        "Minimum hours between alerts",
        "Most alert e-mails per day",
    ):
        assert words in page
    for link in ("password_change", "account-export", "account-delete"):
        assert f'href="{reverse(link)}"' in page


def test_every_profile_setting_is_in_exactly_one_group():
    """The form's fields come from the groups: a setting added to the model shows up only once grouped."""
    grouped = [name for _, names in PROFILE_GROUPS for name in names]
    settings = [
        f.name
        for f in HealthProfile._meta.get_fields()
        if getattr(f, "editable", False) and not f.primary_key and f.name != "user"
    ]
    assert sorted(grouped) == sorted(settings) and len(grouped) == len(set(grouped))
    assert list(HealthProfileForm.base_fields) == grouped


def test_password_change(logged_in, user):
    response = logged_in.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "a-New-passw0rd-here", "new_password2": "a-New-passw0rd-here"},
    )
    assert response.url == reverse("profile")
    user.refresh_from_db()
    assert user.check_password("a-New-passw0rd-here")
    assert "Your password was changed." in logged_in.get(reverse("profile")).content.decode()
    wrong = logged_in.post(
        reverse("password_change"),
        {"old_password": "not-it", "new_password1": "x-Other-passw0rd", "new_password2": "x-Other-passw0rd"},
    )
    assert "old_password" in wrong.context["form"].errors


def reset_link(smtp) -> str:
    (message,) = smtp.messages
    assert message["Subject"] == "Migraine Forecast: choose a new password"
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return re.search(r"http://testserver(/accounts/password/reset/\S+/)", text.get_payload(decode=True).decode())[1]


def test_password_reset_by_email_with_a_working_link(client, user, smtp):
    response = client.post(reverse("password_reset"), {"email": "JANE@example.com"})
    assert response.url == reverse("password_reset_done")
    assert smtp.messages[0]["To"] == "jane@example.com"
    form_page = client.get(reset_link(smtp), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-Brand-new-passw0rd", "new_password2": "a-Brand-new-passw0rd"},
    )
    assert done.url == reverse("password_reset_complete")
    login = client.post(reverse("login"), {"username": "jane", "password": "a-Brand-new-passw0rd"})
    assert login.url == reverse("forecast:location-list")
    # The link works once.
    assert "This link no longer works" in client.get(reset_link(smtp), follow=True).content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, user, smtp):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.url == reverse("password_reset_done")
    assert smtp.messages == []


@pytest.fixture
def everything(user, location, other_user):
    """One of each kind of row for `user`, and a place of someone else's that must stay out of it all."""
    now = timezone.now()
    WeatherForecast.objects.create(
        location=location, target_time=now, temperature=5, humidity=80, pressure_msl=1000, fetched_at=now
    )
    prediction = Prediction.objects.create(
        location=location,
        prediction_type="MIGRAINE",
        risk_level="HIGH",
        window_start=now,
        window_end=now + timedelta(hours=3),
        source="rules",
        confidence=0.8,
        rationale="Pressure falls.",
        factors=[{"name": "pressure"}],
    )
    Notification.objects.create(user=user, subject="Migraine Forecast: 1 high risk ahead", sent_at=now).predictions.add(
        prediction
    )
    ComparisonReport.objects.create(
        location=location,
        period_start=now - timedelta(hours=24),
        period_end=now,
        hours_compared=24,
        mean_abs_temperature_diff=1.5,
    )
    strangers = add_location(other_user, name="Elsewhere")
    Prediction.objects.create(
        location=strangers,
        prediction_type="MIGRAINE",
        risk_level="LOW",
        window_start=now,
        window_end=now,
        source="rules",
        confidence=0.5,
        rationale="Someone else's.",
    )
    return prediction


def test_export_holds_all_of_the_users_data_and_nothing_else(logged_in, user, location, everything):
    response = logged_in.get(reverse("account-export"))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="migraine-forecast-jane-\d{8}\.json"', response["Content-Disposition"])
    body = b"".join(response.streaming_content).decode()
    data = json.loads(body)
    assert data["format"] == "migraine-forecast-export/1"
    assert data["account"]["username"] == "jane" and data["account"]["email"] == "jane@example.com"
    assert data["health_profile"]["sensitivity_overall"] == 1
    assert [place["name"] for place in data["locations"]] == ["Berlin"]
    assert data["locations"][0]["latitude"] == "52.52437"
    assert len(data["weather_forecasts"]) == 1 and data["weather_forecasts"][0]["pressure_msl"] == 1000
    assert [p["rationale"] for p in data["predictions"]] == ["Pressure falls."]
    assert data["predictions"][0]["factors"] == [{"name": "pressure"}]
    assert data["notifications"][0]["subject"] == "Migraine Forecast: 1 high risk ahead"
    assert data["notified_predictions"] == [
        {"notification_id": data["notifications"][0]["id"], "prediction_id": everything.pk}
    ]
    assert data["comparison_reports"][0]["hours_compared"] == 24
    assert "Elsewhere" not in body and "Someone else" not in body and "password" not in body


def test_deletion_with_a_wrong_password_deletes_nothing(logged_in, user, everything):
    response = logged_in.post(reverse("account-delete"), {"password": "not-my-password"})
    assert response.status_code == 200
    assert "That is not your password; nothing was deleted." in response.content.decode()
    assert get_user_model().objects.filter(pk=user.pk).exists() and Prediction.objects.count() == 2


def test_deletion_confirmed_by_password_removes_everything_of_the_user(logged_in, user, other_user, everything):
    response = logged_in.post(reverse("account-delete"), {"password": PASSWORD}, follow=True)
    assert "Your account and all its data were deleted." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("login")
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not HealthProfile.objects.filter(user_id=user.pk).exists()
    assert not Notification.objects.exists() and not ComparisonReport.objects.exists()
    assert not WeatherForecast.objects.exists()
    # Only the other user's place and prediction are left.
    assert list(Location.objects.values_list("name", flat=True)) == ["Elsewhere"]
    assert Prediction.objects.get().rationale == "Someone else's."
    assert logged_in.get(reverse("profile")).status_code == 302  # logged out


def test_jobs_after_a_deletion_do_not_stumble(logged_in, location, open_meteo):
    logged_in.post(reverse("account-delete"), {"password": PASSWORD})
    status, output = run_command("collect_weather_data")
    assert status == 0 and "0 location(s)" in output
