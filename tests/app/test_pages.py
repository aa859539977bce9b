"""Pages: accounts, locations (owner-scoped), the dashboard, history and CSV export."""

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import HealthProfile
from forecast.models import Location, Prediction, WeatherForecast
from tests.app.helpers import add_location, run_command
from tests.harness.http_fake import Response
from tests.harness.open_meteo_fake import stormy_weather


def test_pages_need_login(client, db):
    response = client.get(reverse("forecast:location-list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_profile_window_must_start_before_it_ends(logged_in, user):
    data = {
        f"sensitivity_{f}": 2
        for f in ("overall", "temperature", "humidity", "pressure", "low_pressure", "precipitation", "cloud_cover")
    }
    data.update(
        email_migraine="on",
        daily_notification_limit=2,
        notification_min_gap_hours=3,
        window_start_hours=10,
        window_end_hours=5,
    )
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
    response = logged_in.post(
        reverse("forecast:location-add"), {"name": "Home", "latitude": "48.13743", "longitude": "11.57549"}
    )
    location = Location.objects.get(user=user)
    assert response.url == reverse("forecast:location-detail", args=[location.pk])
    assert WeatherForecast.objects.filter(location=location).count() == 72
    assert Prediction.objects.filter(location=location).count() == 2


def test_add_rejects_bad_coordinates_and_duplicates(logged_in, location):
    response = logged_in.post(reverse("forecast:location-add"), {"name": "X", "latitude": "123", "longitude": "abc"})
    errors = response.context["form"].errors
    assert errors["latitude"] == ["Ensure this value is less than or equal to 90."]
    assert errors["longitude"] == ["Enter a number such as 52.52437 (a decimal comma is fine too)."]
    response = logged_in.post(reverse("forecast:location-add"), {"name": "X", "latitude": "52.5"})
    assert response.context["form"].errors["longitude"] == [
        "Enter the longitude too, or paste both numbers into the latitude box."
    ]
    response = logged_in.post(
        reverse("forecast:location-add"), {"name": "Again", "latitude": "52.524371", "longitude": "13.410529"}
    )
    assert "You already follow a place at these coordinates." in response.content.decode()
    assert Location.objects.count() == 1


@pytest.mark.parametrize(
    "latitude, longitude, stored",
    [
        ("37.7749295", "-122.4194155", ("37.77493", "-122.41942")),
        ("37.7749295, -122.4194155", "", ("37.77493", "-122.41942")),  # both pasted into the first box
        ("52.52,13.41", "", ("52.52000", "13.41000")),
        ("52,52 13,41", "", ("52.52000", "13.41000")),
        ("48.1; 11.5", "", ("48.10000", "11.50000")),
        ("1,5", "103,8", ("1.50000", "103.80000")),  # decimal commas
        (" −33.8688 ", "151.2093°", ("-33.86880", "151.20930")),  # a typographic minus, a degree sign
    ],
    ids=[
        "many-decimals",
        "pasted-pair",
        "pair-bare-comma",
        "pair-decimal-commas",
        "pair-semicolon",
        "decimal-comma",
        "minus-and-degree-sign",
    ],
)
def test_add_accepts_coordinates_as_people_paste_them(logged_in, user, open_meteo, latitude, longitude, stored):
    response = logged_in.post(
        reverse("forecast:location-add"), {"name": "Here", "latitude": latitude, "longitude": longitude}
    )
    assert response.status_code == 302, response.context["form"].errors
    place = Location.objects.get(user=user)
    assert (str(place.latitude), str(place.longitude)) == stored


def test_coordinate_boxes_are_text_so_the_browser_refuses_no_decimals(logged_in):
    page = logged_in.get(reverse("forecast:location-add")).content.decode()
    assert 'type="number"' not in page and " step=" not in page
    assert '<input type="text" name="latitude"' in page


def test_search_result_brings_its_time_zone(logged_in, user, open_meteo):
    page = logged_in.get(reverse("forecast:location-add"), {"query": "Berlin"}).content.decode()
    assert '<input type="hidden" name="timezone" value="America/New_York">' in page
    open_meteo.script(*[Response(503, {"error": True, "reason": "down"})] * 4)  # no forecast yet
    logged_in.post(
        reverse("forecast:location-add"),
        {"name": "Berlin", "latitude": "44.46867", "longitude": "-71.18508", "timezone": "America/New_York"},
    )
    assert Location.objects.get(user=user).timezone == "America/New_York"


def test_search_by_name_lists_matches_to_choose_from(logged_in, open_meteo):
    response = logged_in.get(reverse("forecast:location-add"), {"query": "Berlin"})
    page = response.content.decode()
    assert "Add Berlin, Land Berlin, Germany" in page and "Add Berlin, New Hampshire, United States" in page
    assert 'name="latitude" value="52.52437"' in page
    response = logged_in.get(reverse("forecast:location-add"), {"query": "Nowhereville"})
    assert "No place of that name was found" in response.content.decode()


def test_place_is_kept_when_its_forecast_cannot_be_fetched(logged_in, user, open_meteo, sentry):
    open_meteo.script(Response(503, {"error": True, "reason": "down"}))
    response = logged_in.post(
        reverse("forecast:location-add"), {"name": "Home", "latitude": "48.1", "longitude": "11.5"}, follow=True
    )
    assert "Home is saved. Its forecast could not be fetched now" in response.content.decode()
    assert len(open_meteo.requests) == 1  # a page does not retry: the scheduled job does
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


def test_place_page_explains_the_risk_in_words_with_the_numbers_behind_a_toggle(logged_in, location, open_meteo):
    open_meteo.weather = stormy_weather
    run_command("collect_weather_data")
    run_command("generate_predictions")
    page = logged_in.get(reverse("forecast:location-detail", args=[location.pk])).content.decode()
    assert 'Migraine risk: <span class="risk high">High</span>' in page
    face, numbers = page.split("<summary>The numbers behind this</summary>", 1)
    assert "Air pressure falls by about" in face
    for jargon in ("Weight for you", "Score", "confidence", "0.1"):
        assert jargon not in face.split('<section class="predictions"', 1)[1]
    assert "Weight for you" in numbers and "certainty 0.56 of 1 (not very sure)" in numbers
    assert "the weather rules" in numbers and "rules</" not in page


def test_place_page_shows_local_time_and_keeps_utc_in_the_database(logged_in, location, open_meteo):
    run_command("collect_weather_data")
    location.refresh_from_db()
    assert location.timezone == "Europe/Berlin"
    first = location.forecasts.order_by("target_time").first().target_time
    assert first.utcoffset() == timedelta(0)
    assert first == timezone.now().replace(minute=0, second=0, microsecond=0)
    page = logged_in.get(reverse("forecast:location-detail", args=[location.pk])).content.decode()
    local = first.astimezone(ZoneInfo("Europe/Berlin"))
    assert f'<th scope="row">{local:%H:%M}</th>' in page
    assert f'Time <span class="unit">{local:%Z}</span>' in page
    assert "UTC" not in page


def test_place_page_has_the_chart_with_one_labelled_panel_per_quantity(logged_in, location, open_meteo):
    run_command("collect_weather_data")
    page = logged_in.get(reverse("forecast:location-detail", args=[location.pk])).content.decode()
    assert '<h2 id="chart-heading">The next 48 hours</h2>' in page
    for title in ("Air pressure (hPa)", "Temperature (°C)", "Rain and snow (mm)"):
        assert f'<h3 class="panel-title">{title}</h3>' in page
    assert "1015 hPa</text>" in page and "normal 1013 hPa" in page
    assert '<desc id="panel-pressure-desc">Air pressure: 1016 hPa now' in page


def test_place_page_says_what_is_not_known_yet(logged_in, location):
    page = logged_in.get(reverse("forecast:location-detail", args=[location.pk])).content.decode()
    assert "No prediction for the coming hours yet." in page
    assert "the forecast for this place has not arrived yet" in page
    assert "How good was the forecast?" in page and "Not known yet." in page
    assert "0 hours compared" not in page


def test_delete_removes_the_location_and_its_data(logged_in, location, open_meteo):
    run_command("collect_weather_data")
    response = logged_in.post(reverse("forecast:location-delete", args=[location.pk]))
    assert response.status_code == 302
    assert not Location.objects.exists() and not WeatherForecast.objects.exists()


@pytest.fixture
def history(location, user):
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    for hour in range(60):
        window_start = start - timedelta(hours=hour)
        Prediction.objects.create(
            location=location,
            prediction_type="MIGRAINE",
            risk_level="LOW",
            window_start=window_start,
            window_end=window_start + timedelta(hours=3),
            source="rules",
            confidence=0.6,
            rationale=f"hour {hour}",
        )
    other = add_location(user)
    Prediction.objects.create(
        location=other,
        prediction_type="SINUSITIS",
        risk_level="HIGH",
        window_start=start,
        window_end=start + timedelta(hours=3),
        source="llm",
        confidence=0.9,
        rationale='Humid, "very" wet',
    )
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
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())  # the BOM spreadsheet apps need to read UTF-8
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["window_start", "window_end", "location", "time_zone", "type", "risk"]
    assert rows[1][2:9] == ["Hamburg", "UTC", "SINUSITIS", "HIGH", "Language model", "0.90", 'Humid, "very" wet']
    assert len(rows) == 2


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn"]
)
def test_csv_neutralises_formulas_as_owasp_recommends(logged_in, user, name):
    place = add_location(user, name=name)
    Prediction.objects.create(
        location=place,
        prediction_type="MIGRAINE",
        risk_level="LOW",
        source="rules",
        window_start=timezone.now(),
        window_end=timezone.now(),
        confidence=0.5,
        rationale="=1+1",
    )
    content = b"".join(logged_in.get(reverse("forecast:history-csv")).streaming_content).decode("utf-8-sig")
    row = list(csv.reader(io.StringIO(content)))[1]
    assert row[2] == "'" + name and row[8] == "'=1+1"
    # Every cell quoted, so that no separator or quote in a name can open a new cell.
    assert content.splitlines()[0].startswith('"window_start","window_end"')


def test_history_says_when_its_filter_is_not_valid(logged_in, history):
    response = logged_in.get(reverse("forecast:history"), {"location": 999999, "prediction_type": "FLU"})
    page = response.content.decode()
    assert "That place is not one of yours (it may have been deleted)." in page
    assert "Condition: Select a valid choice." in page
    assert "The filter was not applied: all your predictions are shown." in page
    assert response.context["page"].paginator.count == 61


def test_history_shows_local_times_and_the_same_source_labels_as_the_place_page(logged_in, history):
    Location.objects.filter(pk=history.pk).update(timezone="America/New_York")
    page = logged_in.get(reverse("forecast:history")).content.decode()
    assert "EST</td>" in page or "EDT</td>" in page
    assert ">Language model</td>" in page and ">Rules</td>" in page
    assert ">rules<" not in page and ">llm<" not in page


def test_empty_history_says_what_will_appear(logged_in, user):
    page = logged_in.get(reverse("forecast:history")).content.decode()
    assert "No predictions yet." in page and "a prediction for each condition is made every hour" in page


def test_empty_dashboard_says_what_to_do(logged_in):
    page = logged_in.get(reverse("forecast:location-list")).content.decode()
    assert "You follow no place yet." in page and "Add a place" in page


def test_history_of_another_user_is_not_visible(client, other_user, history):
    client.force_login(other_user)
    assert client.get(reverse("forecast:history")).context["page"].paginator.count == 0
    response = client.get(reverse("forecast:history"), {"location": history.pk})
    assert "location" in response.context["form"].errors


def test_admin_lists_every_model(admin_client):
    for model in ("location", "weatherforecast", "prediction", "notification", "comparisonreport"):
        assert admin_client.get(f"/admin/forecast/{model}/").status_code == 200
    assert admin_client.get("/admin/accounts/healthprofile/").status_code == 200
