"""Abuse and privacy: login throttling, limits on work a user triggers, headers, error pages."""

import re
import time

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.views.defaults import permission_denied

from forecast.models import Location
from forecast.views import _wait
from tests.app.helpers import add_location, run_command
from tests.harness.app import running_gunicorn
from tests.harness.open_meteo_fake import stormy_weather
from tests.harness.redis import RedisServer

PASSWORD = "a-Long-test-passw0rd"  # the `user` fixture's


def log_in(username, password, address="10.0.0.1", path="/accounts/login/"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


STRANGER = "198.51.100.66"  # an address the owner never uses


def reset_link(smtp, number=-1) -> str:
    text = next(part for part in smtp.messages[number].walk() if part.get_content_type() == "text/plain")
    return re.search(r"http://testserver(/accounts/password/reset/\S+/)", text.get_payload(decode=True).decode())[1]


def choose_new_password(client, link, password):
    form = client.get(link, follow=True)
    return client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def test_too_many_wrong_passwords_pause_that_account_from_that_address_even_for_the_right_one(user, smtp):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in("jane", "guess").status_code == 200  # the form again, with its error
    locked = log_in("jane", "guess")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many wrong passwords" in page and "paused for 15 minutes after the last try" in page
    assert "Even the right password is refused until then." in page
    right = log_in("jane", PASSWORD)
    assert right.status_code == 429 and "_auth_user_id" not in right.client.session
    # A new password set through the e-mailed link, from that address, lifts the pause at once.
    client = Client(REMOTE_ADDR="10.0.0.1")
    client.post(reverse("password_reset"), {"email": "jane@example.com"})
    choose_new_password(client, reset_link(smtp), "a-Fresh-passw0rd!")
    assert log_in("jane", "a-Fresh-passw0rd!").status_code == 302


def test_a_stranger_cannot_lock_the_owner_out(user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("jane", "guess", address=STRANGER)
    assert log_in("jane", PASSWORD, address=STRANGER).status_code == 429  # the stranger's own address is paused
    owner = log_in("jane", PASSWORD, address="10.0.0.2")
    assert owner.status_code == 302 and owner.client.session["_auth_user_id"] == str(user.pk)


def test_many_accounts_guessed_from_one_address_pause_that_address(user, django_user_model, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    for number in range(8):  # each account guessed fewer times than its own limit
        log_in(f"someone{number % 2}", "guess", address="10.0.0.7")
    locked = log_in("jane", PASSWORD, address="10.0.0.7")
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.content.decode()
    assert log_in("jane", PASSWORD, address="10.0.0.8").status_code == 302  # jane herself was never guessed at


def test_the_admin_login_is_throttled_too(admin_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("admin", "guess", path="/admin/login/")
    locked = log_in("admin", "password", path="/admin/login/")
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.content.decode()
    assert log_in("admin", "password", path="/admin/login/", address="10.0.0.9").status_code == 302


def post_log_in(server, password, session=None) -> int:
    """A log-in through the real login page (its CSRF cookie and token); the status of the POST."""
    session = session or requests.Session()
    session.get(f"{server.url}/accounts/login/", timeout=30)
    response = session.post(
        f"{server.url}/accounts/login/",
        timeout=30,
        allow_redirects=False,
        data={"username": "jane", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
    )
    return response.status_code


def test_with_redis_down_log_in_works_and_one_warning_says_the_limits_are_off(
    user, test_database_url, transactional_db, tmp_path
):
    redis = RedisServer().start()  # its own Redis, to stop and start again
    env = {"DATABASE_URL": test_database_url, "REDIS_URL": redis.url(0)}
    try:
        with running_gunicorn(env, tmp_path / "gunicorn.log", workers=1) as server:
            assert post_log_in(server, PASSWORD) == 302
            redis.stop()
            for _ in range(settings.AXES_FAILURE_LIMIT + 1):  # counted nowhere: no lock-out, and no 500
                assert post_log_in(server, "guess") == 200
            assert post_log_in(server, PASSWORD) == 302
            session = requests.Session()
            session.get(f"{server.url}/accounts/password/reset/", timeout=30)
            reset = session.post(
                f"{server.url}/accounts/password/reset/",
                allow_redirects=False,
                timeout=30,
                data={"email": "jane@example.com", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            )
            assert reset.status_code == 302
            warnings = server.log_lines("WARNING config.cache")
            assert len(warnings) == 1, warnings
            assert "log-in throttling and rate limits are off" in warnings[0]
            assert server.log_lines(" ERROR ") == []

            redis.start()
            time.sleep(1.5)  # a failed cache is tried again after a second
            assert post_log_in(server, PASSWORD) == 302
            assert server.log_lines("the limits count again")
            for _ in range(settings.AXES_FAILURE_LIMIT):
                post_log_in(server, "guess")
            assert post_log_in(server, PASSWORD) == 429  # counting again
            assert len(server.log_lines("WARNING config.cache")) == 1
    finally:
        redis.stop()


SIGNED_IN_FORMS = {
    "account-delete": lambda password: {"password": password},
    "password_change": lambda password: {
        "old_password": password,
        "new_password1": "a-New-passw0rd-here",
        "new_password2": "a-New-passw0rd-here",
    },
}


@pytest.mark.parametrize("form", SIGNED_IN_FORMS)
def test_wrong_passwords_in_signed_in_forms_count_like_log_ins(user, form):
    """A stolen session must not turn into unlimited password guesses (and then a deleted account)."""
    thief = Client(REMOTE_ADDR=STRANGER)
    thief.force_login(user)
    data = SIGNED_IN_FORMS[form]
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert thief.post(reverse(form), data("not-it")).status_code == 200  # the form again, with its error
    locked = thief.post(reverse(form), data("not-it"))
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.content.decode()
    right = thief.post(reverse(form), data(PASSWORD))
    assert right.status_code == 429
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # not deleted, not changed
    # Log-in from that address is paused for jane too; jane elsewhere is not.
    assert log_in("jane", PASSWORD, address=STRANGER).status_code == 429
    assert log_in("jane", PASSWORD, address="10.0.0.2").status_code == 302


@pytest.mark.parametrize("setting, value", [("RATELIMIT_FORECAST_FETCH", "2/m")])
def test_refresh_is_rate_limited_with_a_clear_message(logged_in, location, open_meteo, settings, setting, value):
    setattr(settings, setting, value)
    url = reverse("forecast:location-refresh", args=[location.pk])
    for _ in range(2):
        assert "forecast fetched" in logged_in.post(url, follow=True).content.decode()
    page = logged_in.post(url, follow=True).content.decode()
    assert "you asked for many forecasts in a short while" in page and "try again in 1 minute" in page
    assert len([r for r in open_meteo.requests if r.path == "/v1/forecast"]) == 2


def test_adding_places_counts_against_the_same_limit_but_the_place_is_kept(logged_in, user, open_meteo, settings):
    settings.RATELIMIT_FORECAST_FETCH = "1/h"
    for number in range(2):
        logged_in.post(
            reverse("forecast:location-add"), {"name": f"P{number}", "latitude": f"{number}.5", "longitude": "7"}
        )
    assert Location.objects.filter(user=user).count() == 2
    assert len([r for r in open_meteo.requests if r.path == "/v1/forecast"]) == 1
    page = logged_in.get(reverse("forecast:location-list")).content.decode()
    assert "it comes with the next scheduled update at" in page


def test_place_search_is_rate_limited_with_a_clear_message(logged_in, open_meteo, settings):
    settings.RATELIMIT_PLACE_SEARCH = "2/m"
    for _ in range(2):
        assert logged_in.get(reverse("forecast:location-add"), {"query": "Berlin"}).status_code == 200
    limited = logged_in.get(reverse("forecast:location-add"), {"query": "Berlin"})
    assert limited.status_code == 429
    assert "You searched many times in a short while. Try again in 1 minute" in limited.content.decode()
    assert len([r for r in open_meteo.requests if r.path == "/v1/search"]) == 2


def test_rate_limits_count_per_user(client, user, other_user, open_meteo, settings):
    settings.RATELIMIT_PLACE_SEARCH = "1/m"
    client.force_login(user)
    client.get(reverse("forecast:location-add"), {"query": "Berlin"})
    client.force_login(other_user)
    assert client.get(reverse("forecast:location-add"), {"query": "Berlin"}).status_code == 200


def test_a_user_may_follow_at_most_max_locations(logged_in, user, open_meteo, settings):
    settings.MAX_LOCATIONS_PER_USER = 2
    add_location(user, name="One", latitude="1", longitude="1")
    add_location(user, name="Two", latitude="2", longitude="2")
    response = logged_in.post(reverse("forecast:location-add"), {"name": "Three", "latitude": "3", "longitude": "3"})
    assert response.context["form"].non_field_errors() == [
        "You follow 2 places, the most an account can have. Delete one to add another."
    ]
    assert Location.objects.filter(user=user).count() == 2 and open_meteo.requests == []
    # The page says so before anyone fills in a form.
    page = logged_in.get(reverse("forecast:location-add")).content.decode()
    assert "You follow 2 places, the most an account can have." in page and 'name="latitude"' not in page


def test_password_reset_emails_are_limited_per_client_address(client, user, smtp, settings):
    settings.RATELIMIT_PASSWORD_RESET = "2/h"
    for _ in range(2):
        client.post(reverse("password_reset"), {"email": "jane@example.com"})
    limited = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert limited.status_code == 429
    assert "Too many e-mails were asked for from your network just now." in limited.content.decode()
    assert len(smtp.messages) == 2


def test_a_stranger_cannot_spend_the_owners_way_out(user, smtp, settings):
    settings.RATELIMIT_PASSWORD_RESET = "3/h"
    stranger = Client(REMOTE_ADDR=STRANGER)
    for _ in range(3):
        assert stranger.post(reverse("password_reset"), {"email": "jane@example.com"}).status_code == 302
    assert stranger.post(reverse("password_reset"), {"email": "jane@example.com"}).status_code == 429
    # The owner, from her own address, gets the same answer as always; her mailbox got its share
    # already, and the newest of those links is her way in.
    owner = Client(REMOTE_ADDR="10.0.0.2")
    response = owner.post(reverse("password_reset"), {"email": "jane@example.com"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert len(smtp.messages) == 3
    done = choose_new_password(owner, reset_link(smtp), "a-Fresh-passw0rd!")
    assert done.url == reverse("password_reset_complete")
    assert log_in("jane", "a-Fresh-passw0rd!", address="10.0.0.2").status_code == 302


def test_the_reset_limit_counts_each_mailbox_however_it_is_spelled(user, smtp, settings):
    settings.RATELIMIT_PASSWORD_RESET = "2/h"
    spellings = [
        "jane@example.com",
        "JANE@example.com",
        "Jane@Example.com",
        "jane@EXAMPLE.COM",
        "jAnE@example.com",
        "JANE@EXAMPLE.COM",
        " jane@example.com",
        "jane@Example.Com",
    ]
    for number, spelling in enumerate(spellings):
        response = Client(REMOTE_ADDR=f"10.0.1.{number}").post(reverse("password_reset"), {"email": spelling})
        assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert len(smtp.messages) == 2 and {m["To"] for m in smtp.messages} == {"jane@example.com"}


@pytest.fixture
def pages(logged_in, location, open_meteo):
    """Every kind of page a signed-in user reaches, with data on it."""
    open_meteo.weather = stormy_weather
    run_command("collect_weather_data")
    run_command("generate_predictions")
    return [
        "/",
        f"/locations/{location.pk}/",
        "/locations/add/?query=Berlin",
        f"/locations/{location.pk}/delete/",
        "/history/",
        "/history.csv",
        "/accounts/profile/",
        "/accounts/password/",
        "/accounts/export/",
        "/accounts/delete/",
        "/no-such-page/",
    ]


def test_signed_in_responses_are_never_stored(logged_in, pages):
    for path in pages:
        cache_control = logged_in.get(path)["Cache-Control"]
        assert {"private", "no-store"} <= set(re.split(r",\s*", cache_control)), (path, cache_control)


def test_content_security_policy_and_no_inline_script_or_style(logged_in, pages):
    for path in pages + ["/accounts/logout/"]:
        response = logged_in.get(path)
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", path
        assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
        if response["Content-Type"].startswith("text/html"):
            html = response.content.decode()
            assert "<script" not in html and " style=" not in html and "<style" not in html, path
            assert not re.search(r" on[a-z]+=", html), path  # no inline event handlers either


def test_error_pages_have_the_sites_layout_and_a_way_back(logged_in, client, user, monkeypatch):
    not_found = logged_in.get("/locations/987654/")
    assert not_found.status_code == 404
    assert "This page does not exist" in not_found.content.decode() and 'href="/history/"' in not_found.content.decode()

    bad_host = client.get("/", HTTP_HOST="evil.example")
    assert bad_host.status_code == 400 and "This request could not be understood" in bad_host.content.decode()

    forbidden = permission_denied(logged_in.get("/").wsgi_request, Exception())
    assert forbidden.status_code == 403 and "You may not open this page" in forbidden.content.decode()

    not_allowed = logged_in.get("/accounts/logout/")  # log-out is a button (POST), not a link
    assert not_allowed.status_code == 405 and not_allowed["Allow"] == "POST, OPTIONS"
    assert "This page is not opened that way" in not_allowed.content.decode()
    assert not_allowed["Content-Type"] == "text/html; charset=utf-8"

    def broken(*args, **kwargs):  # stands in for any bug
        raise RuntimeError("a bug")

    monkeypatch.setattr("forecast.views.charts.forecast_chart", broken)
    logged_in.raise_request_exception = False
    error = logged_in.get(f"/locations/{add_location(user).pk}/")
    assert error.status_code == 500
    assert "Something went wrong on our side" in error.content.decode() and "site." in error.content.decode()
    for response in (not_found, bad_host, forbidden, not_allowed, error):
        page = response.content.decode()
        assert '<a class="brand" href="/">Migraine Forecast</a>' in page
        assert '<a class="button" href="/">Go to your places</a>' in page


def test_a_stale_form_gets_a_page_that_says_what_happened(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "jane", "password": "x"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page and "Go back, reload the page, and send the form again." in page


@pytest.mark.parametrize(("seconds", "said"), [(-1, "1 minute"), (0, "1 minute"), (59, "1 minute"), (61, "2 minutes")])
def test_the_wait_is_never_said_as_zero_minutes(seconds, said):
    # django-ratelimit answers 0 in a window's last second and -1 when its cache cannot tell.
    assert _wait(seconds) == said
