"""The app as deployed: gunicorn with the bundle's config, whitenoise static files, health probes."""

import re

import pytest
import requests

from tests.harness.app import running_gunicorn
from tests.harness.processes import REPO, free_port


def test_static_files_are_hashed_compressed_and_cached_for_long(gunicorn, transactional_db):
    page = requests.get(f"{gunicorn.url}/accounts/login/", timeout=10).text
    hashed = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert hashed, page
    response = requests.get(f"{gunicorn.url}{hashed.group(1)}", headers={"Accept-Encoding": "gzip, br"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] in {"br", "gzip"}
    assert "max-age=315360000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    # The copy under its own name may change with the next deploy: cached for a minute.
    unhashed = requests.get(f"{gunicorn.url}/static/css/site.css", timeout=10)
    assert unhashed.status_code == 200 and unhashed.headers["Cache-Control"] == "max-age=60, public"


def test_health_probes_through_gunicorn(gunicorn, transactional_db):
    live = requests.get(f"{gunicorn.url}/healthz", timeout=10)
    assert (live.status_code, live.text) == (200, "ok")
    assert "no-cache" in live.headers["Cache-Control"]
    assert requests.get(f"{gunicorn.url}/readyz", timeout=10).json()["status"] == "ready"


def test_access_log_shows_the_client_nginx_saw(gunicorn, transactional_db):
    requests.get(
        f"{gunicorn.url}/accounts/login/?probe=access-log", headers={"X-Forwarded-For": "192.0.2.44"}, timeout=10
    )
    line = gunicorn.log_line("probe=access-log")
    assert re.match(r'192\.0\.2\.44 "GET /accounts/login/\?probe=access-log HTTP/1\.1" 200 ', line), line


def test_readyz_is_503_naming_what_is_down_while_healthz_stays_up(tmp_path):
    closed = free_port()
    env = {"DATABASE_URL": f"postgres://app:x@127.0.0.1:{closed}/app", "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    with running_gunicorn(env, tmp_path / "gunicorn.log") as server:
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        response = requests.get(f"{server.url}/readyz", timeout=20)
        through_nginx = requests.get(f"{server.url}/readyz", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=20)
    # From this machine (loopback, not through a proxy): what failed.
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "database": "error: OperationalError",
        "cache": "error: ConnectionError",
    }
    # From anyone else: the status only; the log has the details.
    assert through_nginx.status_code == 503 and through_nginx.json() == {"status": "not ready"}
    log = (tmp_path / "gunicorn.log").read_text()
    assert "readyz: database not reachable" in log and "readyz: cache not reachable" in log


@pytest.mark.parametrize(
    "address, forwarded, detailed",
    [
        ("127.0.0.1", None, True),
        ("::1", None, True),
        ("10.0.3.7", None, True),  # the host, a container network
        ("10.0.3.7", "203.0.113.9", False),  # nginx passing on a client's request
        ("203.0.113.9", None, False),  # a client reaching the app directly
    ],
)
def test_readyz_names_its_checks_only_to_the_internal_network(client, db, address, forwarded, detailed):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    response = client.get("/readyz", REMOTE_ADDR=address, **headers)
    assert response.status_code == 200
    assert response.json() == (
        {"status": "ready", "database": "ok", "cache": "ok"} if detailed else {"status": "ready"}
    )


def test_gunicorn_config_sizes_workers_from_cpus(monkeypatch):
    import multiprocessing
    import runpy

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 2)
    config = runpy.run_path(str(REPO / "app/gunicorn.conf.py"))
    assert config["workers"] == 5
    assert config["accesslog"] == "-" and config["timeout"] == 60
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 64)
    assert runpy.run_path(str(REPO / "app/gunicorn.conf.py"))["workers"] == 8


def test_gunicorn_preloads_the_app_and_recycles_workers_rarely(monkeypatch):
    import runpy

    for name in ("GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER"):
        monkeypatch.delenv(name, raising=False)
    config = runpy.run_path(str(REPO / "app/gunicorn.conf.py"))
    assert config["preload_app"] is True
    # At ~900 requests/s, 1,000 restarted each worker every 5-6 s; now every ~90 s, not all at once.
    assert (config["max_requests"], config["max_requests_jitter"]) == (20000, 2000)


def test_every_name_the_gunicorn_config_sets_is_a_setting_of_the_installed_gunicorn():
    """gunicorn skips the names in its config file that it does not know: a misspelt setting, or one
    an upgrade renamed (control_socket_disable is new in 25.1), would do nothing without a word."""
    import runpy
    import types

    from gunicorn.config import Config

    config = runpy.run_path(str(REPO / "app/gunicorn.conf.py"))
    names = {
        name for name, value in config.items() if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert "control_socket_disable" in names and names - set(Config().settings) == set()


def test_the_master_forks_workers_without_an_open_database_connection(transactional_db):
    import runpy

    from django.db import connection

    connection.ensure_connection()
    runpy.run_path(str(REPO / "app/gunicorn.conf.py"))["pre_fork"](server=None, worker=None)
    assert connection.connection is None


def test_each_forked_worker_gets_its_own_sentry_client(sentry):
    import runpy

    import sentry_sdk

    masters = sentry_sdk.get_client()
    runpy.run_path(str(REPO / "app/gunicorn.conf.py"))["post_fork"](server=None, worker=None)
    workers = sentry_sdk.get_client()
    assert workers is not masters and workers.transport is not masters.transport
    sentry_sdk.capture_message("from the new worker")
    sentry.wait_for(lambda e: e.get("message") == "from the new worker")


def test_recycled_workers_serve_and_report_each_event_once(services, test_database_url, transactional_db, tmp_path):
    env = {
        "DATABASE_URL": test_database_url,
        "SENTRY_DSN": services.sentry.dsn(6),
        "GUNICORN_MAX_REQUESTS": "3",
        "GUNICORN_MAX_REQUESTS_JITTER": "0",
    }
    with running_gunicorn(env, tmp_path / "gunicorn.log", workers=1) as server:
        for number in range(7):  # a refused Host header: a 400 and an error event per request
            response = requests.get(
                f"{server.url}/accounts/login/?n={number}", headers={"Host": "evil.example"}, timeout=30
            )
            assert response.status_code == 400
        services.sentry.wait_for(lambda e: e.get("request", {}).get("query_string") == "n=6", project="6")
        booted = server.log_lines("Booting worker")
    assert len(booted) >= 2, booted  # the first worker, and at least one that replaced it
    numbers = sorted(e["request"]["query_string"] for e in services.sentry.events(project="6"))
    assert numbers == [f"n={n}" for n in range(7)]


def test_probes_answer_whatever_the_host_header_without_logging_errors(gunicorn, services, transactional_db):
    for host in ("app:8000", "nginx", "evil.example"):
        assert requests.get(f"{gunicorn.url}/healthz", headers={"Host": host}, timeout=10).status_code == 200
        assert requests.get(f"{gunicorn.url}/readyz", headers={"Host": host}, timeout=10).status_code == 200
    refused = requests.get(f"{gunicorn.url}/accounts/login/", headers={"Host": "evil.example"}, timeout=10)
    assert refused.status_code == 400
    # Only the page with the bad host produced a DisallowedHost report; the probes did not.
    disallowed = lambda e: e.get("logger") == "django.security.DisallowedHost"  # noqa: E731
    event = services.sentry.wait_for(disallowed, project="2")
    assert "evil.example" in str(event["logentry"])
    assert len([e for e in services.sentry.events(project="2") if disallowed(e)]) == 1
