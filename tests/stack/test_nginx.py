"""nginx with the bundle's own config, in front of the gunicorn-served app and a GlitchTip ingest port."""

import gzip
import json
import os
import re

import pytest
import requests

from tests.harness.nginx import NginxServer
from tests.harness.sentry_receiver import PUBLIC_KEY


@pytest.fixture(scope="module")
def nginx(gunicorn, services):
    """Clients connect directly: nothing in front of nginx is trusted."""
    server = NginxServer(gunicorn.url.removeprefix("http://"), services.sentry.url.removeprefix("http://")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx_behind_proxy(gunicorn, services):
    """The test client plays the TLS terminator in front of nginx (NGINX_TRUSTED_PROXY_CIDR)."""
    server = NginxServer(
        gunicorn.url.removeprefix("http://"),
        services.sentry.url.removeprefix("http://"),
        trusted_proxy_cidr="127.0.0.1/32",
    ).start()
    yield server
    server.stop()


def test_pages_and_security_headers_through_nginx(nginx, transactional_db):
    response = requests.get(f"{nginx.app_url}/accounts/login/", timeout=10)
    assert response.status_code == 200 and "Log in" in response.text
    for header, value in {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }.items():
        assert response.headers[header] == value  # exactly once: the app's own copy is hidden
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert "nginx/" not in response.headers.get("Server", "")


def test_redirects_keep_the_public_host(nginx, transactional_db):
    response = requests.get(f"{nginx.app_url}/", allow_redirects=False, timeout=10, headers={"Host": "localhost"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/accounts/login/")


def test_static_files_are_served_compressed_and_cacheable(nginx, transactional_db):
    page = requests.get(f"{nginx.app_url}/accounts/login/", timeout=10).text
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page).group(1)
    response = requests.get(f"{nginx.app_url}{css}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    assert ".risk" in response.text


def test_html_is_gzipped_by_nginx(nginx, transactional_db):
    response = requests.get(f"{nginx.app_url}/accounts/register/", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "Create an account" in response.text


def test_health_endpoint_of_nginx_itself(nginx):
    response = requests.get(f"{nginx.app_url}/nginx-health", timeout=10)
    assert (response.status_code, response.text) == (200, "ok\n")


def envelope(size: int) -> bytes:
    event_id = os.urandom(16).hex()
    payload = json.dumps({"event_id": event_id, "message": "big", "extra": {"blob": "x" * size}}).encode()
    header = json.dumps({"event_id": event_id}).encode()
    item = json.dumps({"type": "event", "length": len(payload)}).encode()
    return b"\n".join([header, item, payload]) + b"\n", event_id


def test_a_200_kb_envelope_reaches_glitchtip(nginx, services):
    body, event_id = envelope(200 * 1024)
    response = requests.post(
        f"{nginx.glitchtip_url}/api/1/envelope/",
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_key={PUBLIC_KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": event_id}
    received = services.sentry.wait_for(lambda e: e.get("event_id") == event_id)
    assert len(received["extra"]["blob"]) == 200 * 1024
    assert services.sentry.envelopes[-1].auth.startswith("Sentry sentry_key=")


def test_a_gzipped_envelope_passes_through_unchanged(nginx, services):
    body, event_id = envelope(50 * 1024)
    response = requests.post(
        f"{nginx.glitchtip_url}/api/1/envelope/",
        data=gzip.compress(body),
        timeout=10,
        headers={"Content-Type": "application/x-sentry-envelope", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    services.sentry.wait_for(lambda e: e.get("event_id") == event_id)


def test_oversized_bodies_are_refused(nginx):
    too_big = requests.post(f"{nginx.glitchtip_url}/api/1/envelope/", data=b"x" * (26 * 1024 * 1024), timeout=30)
    assert too_big.status_code == 413
    form = requests.post(f"{nginx.app_url}/accounts/login/", data=b"x" * (3 * 1024 * 1024), timeout=30)
    assert form.status_code == 413


def test_a_client_cannot_forge_its_address_or_scheme(nginx, gunicorn, services, transactional_db):
    requests.get(
        f"{nginx.app_url}/accounts/login/?probe=forged",
        timeout=10,
        headers={"X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https"},
    )
    line = gunicorn.log_line("probe=forged")
    assert line.startswith("127.0.0.1 "), line  # the peer nginx saw, not the forged entry
    transaction = services.sentry.wait_for(
        lambda t: "probe=forged" in t.get("request", {}).get("query_string", ""), kind="transaction", project="2"
    )
    assert transaction["request"]["url"].startswith("http://")


def test_the_trusted_proxy_s_client_address_and_scheme_reach_django(
    nginx_behind_proxy, gunicorn, services, transactional_db
):
    requests.get(
        f"{nginx_behind_proxy.app_url}/accounts/login/?probe=trusted",
        timeout=10,
        headers={"X-Forwarded-For": "203.0.113.77", "X-Forwarded-Proto": "https"},
    )
    line = gunicorn.log_line("probe=trusted")
    assert line.startswith("203.0.113.77 "), line
    transaction = services.sentry.wait_for(
        lambda t: "probe=trusted" in t.get("request", {}).get("query_string", ""), kind="transaction", project="2"
    )
    assert transaction["request"]["url"].startswith("https://")


def test_glitchtip_gets_the_host_with_its_port_so_its_links_point_back_at_it(nginx, services):
    """GlitchTip builds its pagination links from the Host: without the port they would point at the app."""
    requests.get(f"{nginx.glitchtip_url}/api/0/organizations/?probe=host", timeout=10)
    seen = next(r for r in reversed(services.sentry.requests) if r.param("probe") == "host")
    assert seen.headers["host"] == f"127.0.0.1:{nginx.glitchtip_port}"
    assert seen.headers["x-forwarded-host"] == f"127.0.0.1:{nginx.glitchtip_port}"


@pytest.fixture(scope="module")
def nginx_without_app(services):
    """The app container gone: nothing listens where nginx sends the app's requests."""
    from tests.harness.processes import free_port

    server = NginxServer(f"127.0.0.1:{free_port()}", services.sentry.url.removeprefix("http://")).start()
    yield server
    server.stop()


def test_an_unreachable_app_gets_nginx_s_own_back_in_a_moment_page(nginx_without_app):
    response = requests.get(f"{nginx_without_app.app_url}/locations/", timeout=10)
    assert response.status_code == 502  # the status stays what it is; only the page is nginx's own
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Back in a moment</title>" in response.text and "<style>" in response.text
    assert '<meta http-equiv="refresh" content="10">' in response.text
    assert response.headers["Retry-After"] == "10" and response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"  # the security headers on this page too
    assert requests.get(f"{nginx_without_app.app_url}/_unavailable.html", timeout=10).status_code == 404  # internal


def test_a_gone_container_fails_fast_not_after_a_long_cache_or_timeout(nginx):
    """Docker's DNS answers are kept 1 s and a connect gives up after 1 s: a recreated or stopped app is
    noticed at once (measured on the engine: bench/MEASUREMENTS.md), not after 10 s as before."""
    rendered = "\n".join(path.read_text() for path in (nginx.prefix / "conf.d").glob("*.conf"))
    snippets = "\n".join(path.read_text() for path in (nginx.prefix / "mounts").rglob("*.conf"))
    assert re.search(r"resolver \S+ valid=1s ipv6=off;", rendered) and "resolver_timeout 1s;" in rendered
    assert "proxy_connect_timeout 500ms;" in snippets
    assert rendered.count("include /") and rendered.count("unavailable.conf") == 2  # the app's and GlitchTip's
