"""Pages: accounts, locations (owner-scoped), the dashboard, history and CSV export."""
import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import HealthProfile
from forecast.models import Location, Prediction, WeatherForecast
from tests.app.helpers import add_location, run_command
from tests.harness.http_fake import Response
from tests.harness.open_meteo_fake import stormy_weather


def test_register_creates_user_and_profile_and_logs_in(client, db):
    response = client.post(reverse("register"), {"username": "sam", "email": "Sam@Example.com",
                                                 "password1": "a-Long-test-passw0rd", "password2": "a-Long-test-passw0rd"})
    assert response.status_code == 302 and response.url == reverse("profile")
    profile = HealthProfile.objects.get(user__username="sam")
    assert profile.user.email == "sam@example.com"
    assert client.get(reverse("forecast:location-list")).status_code == 200


def test_register_rerenders_with_field_errors(client, user):
    response = client.post(reverse("register"), {"username": "jane", "email": "jane@example.com",
                                                 "password1": "x", "password2": "y"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "username" in errors and "email" in errors and "password2" in errors
    assert b"A user with that username already exists." in response.content


def test_pages_need_login(client, db):
    response = client.get(reverse("forecast:location-list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_profile_window_must_start_before_it_ends(logged_in, user):
    data = {f"sensitivity_{f}": 2 for f in ("overall", "temperature", "humidity", "pressure", "low_pressure",
                                            "precipitation", "cloud_cover")}
    data.update(email_migraine="on", daily_notification_limit=2, notification_min_gap_hours=3,
                window_start_hours=10, window_end_hours=5)
    response = logged_in.post(reverse("profile"), data)
    assert response.status_code == 200
    assert "window_end_hours" in response.context["form"].errors
    data.update(window_start_hours=2, window_end_hours=80)
    assert "window_end_hours" in logged_in.post(reverse("profile"), data).context["form"].errors
    data.update(window_end_hours=8)
    assert logged_in.post(reverse("profile"), data).status_code == 302
    profile = HealthProfile.objects.get(user=user)
    assert (profile.window_start_hours, profile.window_end_hours, profile.sensitivity_pressure) == (2, 8, 2)
    assert profile.email_sinusitis is False


def test_add_by_coordinates_fetches_the_forecast_at_once(logged_in, user, open_meteo):
    response = logged_in.post(reverse("forecast:location-add"),
                              {"name": "Home", "latitude": "48.13743", "longitude": "11.57549"})
    location = Location.objects.get(user=user)
    assert response.url == reverse("forecast:location-detail", args=[location.pk])
    assert WeatherForecast.objects.filter(location=location).count() == 72
    assert Prediction.objects.filter(location=location).count() == 2


def test_add_rejects_bad_coordinates_and_duplicates(logged_in, location):
    response = logged_in.post(reverse("forecast:location-add"), {"name": "X", "latitude": "123", "longitude": "abc"})
    errors = response.context["form"].errors
    assert "latitude" in errors and "longitude" in errors
    response = logged_in.post(reverse("forecast:location-add"),
                              {"name": "Again", "latitude": "52.52437", "longitude": "13.41053"})
    assert "You already follow a place at these coordinates." in response.content.decode()
    assert Location.objects.count() == 1


def test_search_by_name_lists_matches_to_choose_from(logged_in, open_meteo):
    response = logged_in.get(reverse("forecast:location-add"), {"query": "Berlin"})
    page = response.content.decode()
    assert "Add Berlin, Land Berlin, Germany" in page and "Add Berlin, New Hampshire, United States" in page
    assert 'name="latitude" value="52.52437"' in page
    response = logged_in.get(reverse("forecast:location-add"), {"query": "Nowhereville"})
    assert "No place of that name was found" in response.content.decode()


def test_place_is_kept_when_its_forecast_cannot_be_fetched(logged_in, user, open_meteo, sentry):
    open_meteo.script(*[Response(503, {"error": True, "reason": "down"})] * 4)
    response = logged_in.post(reverse("forecast:location-add"),
                              {"name": "Home", "latitude": "48.1", "longitude": "11.5"}, follow=True)
    assert "the forecast could not be fetched yet" in response.content.decode()
    assert Location.objects.filter(user=user).exists()
    event = sentry.wait_for(lambda e: "weather_api" in e.get("contexts", {}))
    assert event["user"] == {"id": str(user.pk), "username": "jane"}


@pytest.mark.parametrize("name", ["forecast:location-detail", "forecast:location-delete", "forecast:location-refresh"])
def test_another_users_location_is_404(client, other_user, location, name):
    client.force_login(other_user)
    method = client.post if name.endswith("refresh") else client.get
    assert method(reverse(name, args=[location.pk])).status_code == 404
    assert client.post(reverse("forecast:location-delete", args=[location.pk])).status_code == 404
    assert Location.objects.filter(pk=location.pk).exists()


def test_dashboard_shows_risk_factors_and_chart(logged_in, location, open_meteo):
    open_meteo.weather = stormy_weather
    run_command("collect_weather_data")
    run_command("generate_predictions")
    page = logged_in.get(reverse("forecast:location-detail", args=[location.pk])).content.decode()
    assert "Why HIGH?" in page
    assert "Pressure change" in page
    assert "<polyline" in page and "Pressure" in page and "Temperature" in page
    assert page.count("<tr><td>") >= 24


def test_delete_removes_the_location_and_its_data(logged_in, location, open_meteo):
    run_command("collect_weather_data")
    response = logged_in.post(reverse("forecast:location-delete", args=[location.pk]))
    assert response.status_code == 302
    assert not Location.objects.exists() and not WeatherForecast.objects.exists()


@pytest.fixture
def history(location, user):
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    for hour in range(60):
        Prediction.objects.create(location=location, prediction_type="MIGRAINE", risk_level="LOW",
                                  window_start=start - timedelta(hours=hour), window_end=start - timedelta(hours=hour - 3),
                                  source="rules", confidence=0.6, rationale=f"hour {hour}")
    other = add_location(user)
    Prediction.objects.create(location=other, prediction_type="SINUSITIS", risk_level="HIGH", window_start=start,
                              window_end=start + timedelta(hours=3), source="llm", confidence=0.9,
                              rationale='Humid, "very" wet')
    return other


def test_history_is_paginated_and_filtered(logged_in, history):
    first = logged_in.get(reverse("forecast:history"))
    assert first.context["page"].paginator.count == 61
    assert len(first.context["page"].object_list) == 25
    assert first.context["page"].paginator.num_pages == 3
    filtered = logged_in.get(reverse("forecast:history"), {"location": history.pk, "page": 1})
    assert filtered.context["page"].paginator.count == 1
    assert logged_in.get(reverse("forecast:history"), {"page": 99}).context["page"].number == 3


def test_history_csv_export(logged_in, history):
    response = logged_in.get(reverse("forecast:history-csv"), {"prediction_type": "SINUSITIS"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["window_start", "window_end", "location", "type", "risk"]
    assert rows[1][2:7] == ["Hamburg", "SINUSITIS", "HIGH", "llm", "0.90"]
    assert rows[1][7] == 'Humid, "very" wet'
    assert len(rows) == 2


def test_history_of_another_user_is_not_visible(client, other_user, history):
    client.force_login(other_user)
    assert client.get(reverse("forecast:history")).context["page"].paginator.count == 0
    response = client.get(reverse("forecast:history"), {"location": history.pk})
    assert "location" in response.context["form"].errors


def test_admin_lists_every_model(admin_client):
    for model in ("location", "weatherforecast", "prediction", "notification", "comparisonreport"):
        assert admin_client.get(f"/admin/forecast/{model}/").status_code == 200
    assert admin_client.get("/admin/accounts/healthprofile/").status_code == 200
