"""What the app sends to Sentry/GlitchTip, checked at the wire (the local ingest endpoint)."""

import json
import logging

import pytest
import requests
import sentry_sdk
from django.urls import reverse

from tests.app.helpers import run_command, wsgi_get
from tests.harness.app import manage
from tests.harness.http_fake import Response
from tests.harness.sentry_receiver import breadcrumbs, tags

PASSWORD = "Sup3r-Secret-Passw0rd"
TOKEN = "tok_4f9a2c7e1b8d6f3a"


def failing_add(client, open_meteo, **extra):
    """POST the add-place form while Open-Meteo is down: a handled, reported error inside a request."""
    open_meteo.script(*[Response(503, {"error": True, "reason": "down"})] * 4)
    return client.post(
        reverse("forecast:location-add"),
        {
            "name": "Home of jane@example.com",
            "latitude": "48.1",
            "longitude": "11.5",
            "password": PASSWORD,
            "api_key": TOKEN,
            "token": TOKEN,
        },
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_X_API_KEY=TOKEN,
        **extra,
    )


def test_secrets_and_pii_never_leave_the_process(logged_in, user, open_meteo, sentry, settings):
    logged_in.cookies["sessionid"] = logged_in.cookies["sessionid"].value
    session_id = logged_in.cookies["sessionid"].value
    failing_add(logged_in, open_meteo, REMOTE_ADDR="203.0.113.9")
    logging.getLogger("forecast").error(
        "login failed for jane@example.com with password=%s key %s", PASSWORD, settings.LLM_API_KEY
    )
    event = sentry.wait_for(lambda e: "weather_api" in e.get("contexts", {}))
    sentry.wait_for(lambda e: "login failed" in (e.get("logentry") or {}).get("message", ""))
    sentry_sdk.flush(timeout=5)
    wire = sentry.raw_bodies()
    for secret in (
        PASSWORD,
        TOKEN,
        session_id,
        settings.LLM_API_KEY,
        settings.SECRET_KEY,
        "jane@example.com",
        "203.0.113.9",
    ):
        assert secret.encode() not in wire, f"{secret} reached Sentry"
    # The user is identified, without the e-mail or IP.
    assert event["user"] == {"id": str(user.pk), "username": "jane"}
    headers = event["request"].get("headers", {})
    assert "Authorization" not in headers and "Cookie" not in headers


@pytest.mark.parametrize(
    "text, secret",
    [
        ("calling with Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"),
        ("header was basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("connect postgres://app:s3cr3t-pw@db:5432/app failed", "s3cr3t-pw"),
        ("retry with PASSWORD=hunter22", "hunter22"),
        ("api-key: k-0123456789", "k-0123456789"),
        ("mail to jane@example.com bounced", "jane@example.com"),
        ("the configured key sk-live-0123456789abcdef leaked", "sk-live-0123456789abcdef"),
    ],
)
def test_secrets_in_free_text_are_cut_out(text, secret):
    """Each form the value scrubber knows, behind its one-search shortcut for strings holding none."""
    from config.sentry import Scrubber, SentryConfig

    scrubbed = Scrubber(SentryConfig(dsn="http://k@h/1", secret_values=("sk-live-0123456789abcdef",))).text(text)
    assert secret not in scrubbed and ("[Filtered]" in scrubbed or "[email]" in scrubbed), scrubbed


def test_email_is_sent_only_when_pii_is_allowed(logged_in, user, open_meteo, sentry_init):
    sentry = sentry_init(send_default_pii=True)
    logging.getLogger("forecast").error("could not reach jane@example.com")
    event = sentry.wait_for(lambda e: "could not reach" in (e.get("logentry") or {}).get("message", ""))
    assert "jane@example.com" in json.dumps(event)


def test_error_logs_become_events_and_info_logs_breadcrumbs(sentry):
    logger = logging.getLogger("forecast.test")
    logger.info("fetched the weather for Berlin")
    logger.warning("Open-Meteo was slow")
    logger.error("job failed for Berlin")
    event = sentry.wait_for(lambda e: e.get("level") == "error" and "logentry" in e)
    assert event["logentry"]["message"] == "job failed for Berlin"
    assert [c["message"] for c in breadcrumbs(event)][-2:] == ["fetched the weather for Berlin", "Open-Meteo was slow"]
    sentry_sdk.flush(timeout=5)
    assert len(sentry.events()) == 1


def test_gunicorns_access_log_is_no_breadcrumb(sentry):
    logging.getLogger("gunicorn.access").info('127.0.0.1 "GET /healthz HTTP/1.1" 200 2')
    logging.getLogger("forecast").error("after a request")
    event = sentry.wait_for(lambda e: "after a request" in (e.get("logentry") or {}).get("message", ""))
    assert "/healthz" not in json.dumps(breadcrumbs(event))


def test_requests_are_transactions_named_by_url_pattern_and_probes_are_not_traced(gunicorn, services, transactional_db):
    # One keep-alive connection, so one worker whose transport sends in order: once the last
    # request's transaction has arrived, any transaction of the probes before it would have too.
    session = requests.Session()
    for path in ("/healthz", "/readyz", "/static/css/site.css", "/accounts/login/"):
        assert session.get(f"{gunicorn.url}{path}", timeout=10).status_code == 200, path
    transaction = services.sentry.wait_for(lambda t: True, kind="transaction", project="2")
    names = [t["transaction"] for t in services.sentry.transactions(project="2")]
    assert names == ["/accounts/login/"], names
    spans = {s["op"] for s in transaction["spans"]}
    assert "template.render" in spans
    # Not one span per middleware, nor for the receivers of Django's request signals (config/sentry.py).
    assert not spans & {"middleware.django", "event.django"}, spans
    assert transaction["environment"] == "test" and transaction["release"] == "migraine-forecast@gunicorn-test"


def test_liveness_and_static_files_never_reach_sentrys_wrapping_of_django(sentry_init, monkeypatch, transactional_db):
    """Sentry's WSGI wrapper asks the traces sampler about every request it wraps, traced or not:
    here it is asked about the readiness probe and the page, never about /healthz or a CSS file."""
    from django.templatetags.static import static

    from config import sentry as sentry_setup

    asked = []
    real_sampler = sentry_setup.traces_sampler

    def recording_sampler(rate):
        sample = real_sampler(rate)
        return lambda context: asked.append(context["wsgi_environ"]["PATH_INFO"]) or sample(context)

    monkeypatch.setattr(sentry_setup, "traces_sampler", recording_sampler)
    sentry_init()

    for path in ("/healthz", static("css/site.css"), "/static/css/site.css", "/readyz", "/accounts/login/"):
        assert wsgi_get(path)[0].startswith("200"), path
    assert asked == ["/readyz", "/accounts/login/"]


def test_sentry_disabled_means_no_sdk_and_no_traffic(services, transactional_db, location, test_database_url):
    env = {
        "DATABASE_URL": test_database_url,
        "SENTRY_DSN": services.sentry.dsn(4),
        "SENTRY_ENABLED": "false",
        "SENTRY_TRACES_SAMPLE_RATE": "1.0",
    }
    services.open_meteo.script(*[Response(500, {"error": True, "reason": "x"})] * 4)
    failed = manage("collect_weather_data", env=env)
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    refused = manage("sentry_check", env=env)
    assert refused.returncode == 1 and "SENTRY_ENABLED=False" in refused.stderr
    # The same run with Sentry on does deliver: the receiver was listening all along.
    services.open_meteo.script(*[Response(500, {"error": True, "reason": "x"})] * 4)
    manage("collect_weather_data", env={**env, "SENTRY_ENABLED": "true", "SENTRY_DSN": services.sentry.dsn(5)})
    services.sentry.wait_for(lambda e: "weather_api" in e.get("contexts", {}), project="5")
    assert services.sentry.items(project="4") == []


def test_sentry_check_sends_every_kind_through_the_apps_own_setup(services, transactional_db, test_database_url):
    result = manage(
        "sentry_check",
        "--json",
        "--run-id",
        "run-42",
        env={
            "DATABASE_URL": test_database_url,
            "SENTRY_DSN": services.sentry.dsn(3),
            "SENTRY_RELEASE": "migraine-forecast@abc123",
            "SENTRY_TRACES_SAMPLE_RATE": "0.0",
        },
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    ids = report["events"]
    assert set(ids) == {"error", "message", "log", "transaction"} and all(ids.values())
    receiver = services.sentry
    by_id = {item.get("event_id"): item for item in receiver.items(project="3")}
    assert set(ids.values()) <= set(by_id)
    error, message, log, transaction = (by_id[ids[k]] for k in ("error", "message", "log", "transaction"))
    assert error["exception"]["values"][-1]["type"] == "SentryCheckError"
    assert message["message"] == "sentry_check message run-42"
    assert log["logentry"]["message"] == "sentry_check error log %s"
    assert [s["op"] for s in transaction["spans"]] == ["weather.fetch", "llm.call", "db.query"]
    for event in (error, message, log, transaction):
        assert tags(event)["run_id"] == "run-42"
        assert event["user"] == {"id": "sentry-check", "username": "sentry-check"}
        assert event["contexts"]["sentry_check"]["run_id"] == "run-42"
        assert event["environment"] == "test" and event["release"] == "migraine-forecast@abc123"
    assert {c["category"] for c in breadcrumbs(error)} >= {"user_action", "weather"}
    wire = receiver.raw_bodies()
    for canary in (b"pw-canary-run-42", b"key-canary-run-42", b"canary-run-42@example.com"):
        assert canary not in wire


def test_sentry_check_refuses_when_sentry_is_off(db):
    status, output = run_command("sentry_check")
    assert status == 1 and "Sentry is off" in output and "SENTRY_DSN" in output


def test_user_context_on_requests_through_gunicorn(gunicorn, services, transactional_db, django_user_model):
    from accounts.models import HealthProfile

    account = django_user_model.objects.create_user("gunnar", "gunnar@example.com", PASSWORD)
    HealthProfile.objects.create(user=account)
    session = requests.Session()
    login_page = session.get(f"{gunicorn.url}/accounts/login/", timeout=10)
    assert login_page.status_code == 200
    response = session.post(
        f"{gunicorn.url}/accounts/login/",
        timeout=10,
        data={"username": "gunnar", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{gunicorn.url}/accounts/login/", "X-Forwarded-For": "198.51.100.7"},
    )
    assert response.status_code == 200 and "Your places" in response.text
    services.open_meteo.script(Response(503, {"error": True, "reason": "down"}))
    response = session.post(
        f"{gunicorn.url}/locations/add/",
        timeout=30,
        data={"name": "Home", "latitude": "1", "longitude": "2", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{gunicorn.url}/locations/add/"},
    )
    assert response.status_code == 200 and "could not be fetched now" in response.text
    event = services.sentry.wait_for(lambda e: "weather_api" in e.get("contexts", {}), project="2")
    assert event["user"] == {"id": str(account.pk), "username": "gunnar"}
    assert event["release"] == "migraine-forecast@gunicorn-test"
    assert event["transaction"] == "/locations/add/"
    assert PASSWORD.encode() not in services.sentry.raw_bodies()


def test_with_the_database_away_a_signed_in_page_tries_it_once(logged_in, sentry, monkeypatch):
    """Each try to reach a database whose node is gone costs libpq's connect_timeout (2 s). The
    data-node drill (deploy/swarm/rehearse) saw a user's page answer nothing for 5 s: Sentry, recording
    the failing frames' locals, loaded the lazy user three more times before the error page went out."""
    from django.contrib import auth
    from django.db import OperationalError

    tries = []

    def database_away(request):
        tries.append(request.path)
        raise OperationalError("connection timeout expired")

    monkeypatch.setattr(auth, "get_user", database_away)
    logged_in.raise_request_exception = False
    response = logged_in.get(reverse("forecast:location-list"))
    assert response.status_code == 500
    event = sentry.wait_for(lambda e: "connection timeout expired" in json.dumps(e.get("exception", {})))
    assert event["exception"]["values"][-1]["type"] == "OperationalError"
    assert tries == [reverse("forecast:location-list")]
