"""Database queries per page: a fixed number, whatever the number of places (1, 5 or 20; the
one exception is deleting an account, where Django deletes rows 100 ids per query).

Each count is pinned exactly, so that a new query (an N+1 in a template, a missing
select_related) shows up here with the SQL that caused it.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forecast.models import ComparisonReport, Location, Notification, Prediction, WeatherForecast
from tests.app.helpers import wsgi_get
from tests.harness.http_fake import Response

PLACES = [1, 5, 20]


@pytest.fixture
def places(user):
    """`places(n)`: n places for the user, each with 48 forecast hours, current and past
    predictions of both types, a comparison report, and one notification for them all."""

    def make(count: int) -> list[Location]:
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        locations = Location.objects.bulk_create(
            [
                Location(
                    user=user, name=f"Place {n}", country="Germany", latitude=f"{50 + n / 10:.5f}", longitude="10.00000"
                )
                for n in range(count)
            ]
        )
        WeatherForecast.objects.bulk_create(
            [
                WeatherForecast(
                    location=location,
                    target_time=now + timedelta(hours=h),
                    temperature=12,
                    humidity=60,
                    pressure_msl=1012 - h / 4,
                    fetched_at=now,
                )
                for location in locations
                for h in range(48)
            ]
        )
        predictions = Prediction.objects.bulk_create(
            [
                Prediction(
                    location=location,
                    prediction_type=kind,
                    risk_level="HIGH",
                    source="rules",
                    confidence=0.7,
                    window_start=now + timedelta(hours=start),
                    window_end=now + timedelta(hours=start + 3),
                    factors=[
                        {
                            "name": "pressure",
                            "label": "Pressure change",
                            "value": 5.0,
                            "score": 0.5,
                            "detail": "-5 hPa",
                            "contribution": 0.2,
                        }
                    ],
                )
                for location in locations
                for kind in ("MIGRAINE", "SINUSITIS")
                for start in (-6, -3, 3)
            ]
        )
        ComparisonReport.objects.bulk_create(
            [
                ComparisonReport(
                    location=location,
                    period_start=now - timedelta(hours=24),
                    period_end=now,
                    hours_compared=24,
                    mean_abs_temperature_diff=1.0,
                )
                for location in locations
            ]
        )
        notification = Notification.objects.create(user=user, subject="Migraine Forecast: risk ahead", sent_at=now)
        notification.predictions.set(predictions)
        return locations

    return make


def get(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response
    if response.streaming:
        b"".join(response.streaming_content)  # a streamed page runs its queries while it is sent
    return response


# Every logged-in page starts with 2 queries: the session and the user.
@pytest.mark.parametrize("count", PLACES)
def test_place_list(logged_in, places, count, django_assert_num_queries):
    places(count)
    with django_assert_num_queries(4):  # session, user, places, their unexpired predictions (one query for all)
        page = get(logged_in, reverse("forecast:location-list"))
    assert page.content.decode().count("Migraine: High") == count


@pytest.mark.parametrize("count", PLACES)
def test_dashboard(logged_in, places, count, django_assert_num_queries):
    location = places(count)[-1]
    with django_assert_num_queries(6):  # session, user, place, forecast hours, current predictions, comparison report
        page = get(logged_in, reverse("forecast:location-detail", args=[location.pk]))
    assert 'Migraine risk: <span class="risk high">High</span>' in page.content.decode()


@pytest.mark.parametrize("count", PLACES)
def test_history(logged_in, places, count, django_assert_num_queries):
    places(count)
    with django_assert_num_queries(5):  # session, user, the filter form's places, count, one page of predictions
        page = get(logged_in, reverse("forecast:history"))
    assert page.context["page"].paginator.count == 6 * count


@pytest.mark.parametrize("count", PLACES)
def test_history_csv(logged_in, places, count, django_assert_num_queries):
    places(count)
    with django_assert_num_queries(3):  # session, user, the predictions with their places
        get(logged_in, reverse("forecast:history-csv"))


@pytest.mark.parametrize("count", PLACES)
def test_add_place_form_and_search(logged_in, places, open_meteo, count, django_assert_num_queries):
    places(count)
    with django_assert_num_queries(3):  # session, user, how many places the user has (the cap)
        get(logged_in, reverse("forecast:location-add"))
    with django_assert_num_queries(3):
        get(logged_in, reverse("forecast:location-add"), query="Berlin")


@pytest.mark.parametrize("count", [1, 5, 19])  # 19: one below the cap on places (MAX_LOCATIONS_PER_USER)
def test_adding_a_place_fetches_and_predicts_in_fixed_queries(
    logged_in, places, open_meteo, count, django_assert_num_queries
):
    places(count)
    # session, user, the user locked (one add at a time), the cap, duplicate check, insert, forecast
    # upsert (staging table, upsert from it, emptied; the COPY into it is not a query), the
    # place's time zone, profile, forecast hours, e-mailed check, prediction upsert, and the
    # savepoints of the transactions
    with django_assert_num_queries(22):
        response = logged_in.post(
            reverse("forecast:location-add"), {"name": "Home", "latitude": "48.13743", "longitude": "11.57549"}
        )
    assert response.status_code == 302


@pytest.mark.parametrize("count", PLACES)
def test_refresh(logged_in, places, open_meteo, count, django_assert_num_queries):
    location = places(count)[0]
    with django_assert_num_queries(17):  # as adding, with the place's lookup instead of the lock, cap and insert
        response = logged_in.post(reverse("forecast:location-refresh", args=[location.pk]))
    assert response.status_code == 302


def test_refresh_when_open_meteo_is_down(logged_in, places, open_meteo, django_assert_num_queries):
    location = places(1)[0]
    open_meteo.script(*[Response(503, {"error": True, "reason": "down"})] * 4)
    with django_assert_num_queries(6):  # session, user, place, savepoint, its rollback and release
        logged_in.post(reverse("forecast:location-refresh", args=[location.pk]))


@pytest.mark.parametrize("count", PLACES)
def test_delete(logged_in, places, count, django_assert_num_queries):
    location = places(count)[0]
    with django_assert_num_queries(3):
        get(logged_in, reverse("forecast:location-delete", args=[location.pk]))
    # Deleting cascades: one query per related table, however many rows.
    with django_assert_num_queries(9):
        assert logged_in.post(reverse("forecast:location-delete", args=[location.pk])).status_code == 302


def test_account_pages(client, user, django_assert_num_queries):
    with django_assert_num_queries(0):
        get(client, reverse("register"))
    with django_assert_num_queries(0):
        get(client, reverse("login"))
    client.force_login(user)
    with django_assert_num_queries(3):  # session, user, profile
        get(client, reverse("profile"))
    with django_assert_num_queries(4):  # session and user, the session again, its deletion
        client.post(reverse("logout"))


@pytest.mark.parametrize("count", PLACES)
def test_data_export(logged_in, places, count, django_assert_num_queries):
    places(count)
    # session, user, then one query per section: profile, places, forecasts, predictions,
    # notifications, their predictions, comparison reports
    with django_assert_num_queries(9):
        get(logged_in, reverse("account-export"))


@pytest.mark.parametrize("count", PLACES)
def test_account_deletion(logged_in, places, count, django_assert_num_queries):
    places(count)
    with django_assert_num_queries(2):
        get(logged_in, reverse("account-delete"))
    # The password is checked as a log-in is (authenticate() reads the account: one query). Deleting
    # cascades: one query per related table, and Django deletes ids 100 at a time, so the 120
    # predictions of 20 places take one DELETE more.
    with django_assert_num_queries(23 if count == 20 else 22):
        response = logged_in.post(reverse("account-delete"), {"password": "a-Long-test-passw0rd"})
    assert response.status_code == 302


def test_password_pages(client, user, django_assert_num_queries):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    with django_assert_num_queries(0):
        get(client, reverse("password_reset"))
    with django_assert_num_queries(1):  # the account with that address
        assert client.post(reverse("password_reset"), {"email": user.email}).status_code == 302
    with django_assert_num_queries(0):
        get(client, reverse("password_reset_done"))
    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    with django_assert_num_queries(5):  # the account, and a new session for the token (key check, insert)
        link = client.get(reverse("password_reset_confirm", args=[uid, token]))
    assert link.status_code == 302
    with django_assert_num_queries(2):  # session, account
        get(client, link.url)
    with django_assert_num_queries(1):  # session
        get(client, reverse("password_reset_complete"))
    client.force_login(user)
    with django_assert_num_queries(2):
        get(client, reverse("password_change"))


def test_probes(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):  # answered in front of Django (config/wsgi.py)
        assert wsgi_get("/healthz") == ("200 OK", b"ok")
    with django_assert_num_queries(1):
        assert client.get("/readyz").status_code == 200


ADMIN_LISTS = [
    "forecast/location",
    "forecast/weatherforecast",
    "forecast/prediction",
    "forecast/notification",
    "forecast/comparisonreport",
    "accounts/healthprofile",
]


@pytest.mark.parametrize("count", PLACES)
@pytest.mark.parametrize("model", ADMIN_LISTS)
def test_admin_lists(admin_client, places, model, count, django_assert_max_num_queries):
    places(count)
    # The lists join what they show (list_select_related); the bound covers the filters and date hierarchy.
    with django_assert_max_num_queries(8):
        get(admin_client, f"/admin/{model}/")
