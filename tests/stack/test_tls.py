"""HTTPS served by the bundle's nginx, with every part real: Pebble as the ACME CA (its DNS sending the site's
names to loopback), the certificates service's own code driving the pinned certbot, nginx started from the
bundle's templates and entrypoint scripts in front of the app under gunicorn, and openssl as the client that
checks the TLS settings. The names exist only here (tests/harness/names.py resolves them for this process)."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from certificates import pem
from tests.harness.app import running_gunicorn
from tests.harness.names import resolving
from tests.harness.pebble import Pebble
from tests.harness.processes import REPO, find_binary, free_port, stop, wait_for_port
from tests.harness.tls import TLSSite, certificates_cli

APP, GLITCHTIP = "forecast.example.test", "glitchtip.example.test"
# Mozilla's "intermediate" TLS 1.2 ciphers (nginx/snippets/tls-on.conf); TLS 1.3's suites are all AEAD.
INTERMEDIATE = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
}


@pytest.fixture(scope="module")
def production_app(test_database_url, services, tmp_path_factory):
    """The app as production runs it behind TLS: https redirect, Secure cookies, its own HSTS (which nginx replaces)."""
    env = {
        "DATABASE_URL": test_database_url,
        "SENTRY_DSN": "",
        "DJANGO_ALLOWED_HOSTS": APP,
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{APP}",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
        "DJANGO_SESSION_COOKIE_SECURE": "true",
        "DJANGO_CSRF_COOKIE_SECURE": "true",
        "DJANGO_SECURE_HSTS_SECONDS": "600",
    }
    with running_gunicorn(env, tmp_path_factory.mktemp("gunicorn-tls") / "gunicorn.log") as server:
        yield server


def tls_site(tls_mode: str, app, services, **settings: str) -> TLSSite:
    return TLSSite(
        tls_mode,
        app.url.removeprefix("http://"),
        services.sentry.url.removeprefix("http://"),
        APP,
        GLITCHTIP,
        **settings,
    )


@pytest.fixture(scope="module")
def pebble_site(production_app, services):
    site = tls_site("acme", production_app, services)
    pebble = Pebble(http_port=site.nginx.app_port).start()
    site.env.update(TLS_ACME_DIRECTORY_URL=pebble.directory, REQUESTS_CA_BUNDLE=str(pebble.listener_ca))
    site.pebble = pebble
    try:
        with resolving({APP: "127.0.0.1", GLITCHTIP: "127.0.0.1"}):
            yield site.start()
    finally:
        site.stop()
        pebble.stop()


@pytest.fixture(scope="module")
def rehearsal_site(production_app, services, tmp_path_factory):
    site = tls_site("rehearsal", production_app, services).start()
    try:
        with resolving({APP: "127.0.0.1", GLITCHTIP: "127.0.0.1"}):
            site.ca = site.rehearse(tmp_path_factory.mktemp("rehearsal-ca") / "ca.pem")
            yield site
    finally:
        site.stop()


# ---- acme: a certificate from Pebble, through nginx's HTTP-01, renewed under load ------------------------------


def test_nginx_starts_before_the_first_certificate_then_serves_pebble_s_and_it_verifies(pebble_site):
    site = pebble_site
    temporary = site.served()
    assert temporary.issuer == temporary.subject  # self-signed, made by the entrypoint while the volume is empty
    assert pem.covers(temporary, APP) and pem.covers(temporary, GLITCHTIP)

    obtained = site.certificates("renew")
    assert obtained.returncode == 0, obtained.stderr + site.pebble.log()
    assert "issued by the ACME CA, now served" in obtained.stdout
    root = site.pebble.root()
    served = site.wait_until_served(not_serial=temporary.serial_number)
    assert "Pebble Intermediate CA" in served.issuer.rfc4514_string() and pem.covers(served, GLITCHTIP)

    response = requests.get(site.url(APP, "/accounts/login/"), verify=str(root), timeout=10)
    assert response.status_code == 200 and "Log in" in response.text  # no redirect loop: the app knows it is https
    glitchtip = requests.get(site.url(GLITCHTIP, "/api/0/?probe=tls"), verify=str(root), timeout=10)
    assert glitchtip.status_code < 500  # GlitchTip's server answered by its own name on the same port
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(site.url(APP, "/healthz"), timeout=10)  # the public roots do not trust Pebble's

    again = site.certificates("renew")
    assert again.returncode == 0 and "not due for renewal" in again.stdout  # certbot's own rule decides


def test_a_forced_renewal_is_served_after_a_reload_while_a_probe_sees_no_failed_request(pebble_site):
    from tests.stack.test_probe import probe

    site = pebble_site
    if site.certificates("renew").returncode != 0:  # the first certificate, if no test got it yet
        pytest.fail(f"no first certificate from Pebble:\n{site.pebble.log()}")
    before = site.wait_until_served(issued_by=None)
    started = time.monotonic()
    prober = probe.Prober(site.url(APP, "/healthz"), 0.05, 1.0, started, ca_file=str(site.pebble.root()))
    prober.start()
    try:
        renewed = site.certificates("renew", "--force")
        after = site.wait_until_served(not_serial=before.serial_number)
        time.sleep(1)  # and a while longer on the new certificate
    finally:
        prober.stopping.set()
        prober.join()
    assert renewed.returncode == 0 and "issued by the ACME CA, now served" in renewed.stdout, renewed.stderr
    summary = probe.summarise(prober.samples, time.monotonic() - started)
    assert summary.probes > 20 and summary.failed_probes == 0, summary.outages
    assert "Pebble Intermediate CA" in after.issuer.rfc4514_string()
    assert "a new certificate" in site.nginx.entrypoint_log() and "nginx reloaded" in site.nginx.entrypoint_log()


def test_a_failed_validation_names_the_cause_and_the_fix(pebble_site, tmp_path):
    """The CA fetches the challenge's answer from a webroot nginx does not serve (DNS pointing elsewhere, another
    server on port 80...): certbot's reason comes through, with what to do, and the healthcheck turns unhealthy."""
    site = pebble_site
    elsewhere = {
        **site.env,
        "CERTIFICATES_DIR": str(tmp_path / "not-nginx-s"),
        "CERTIFICATES_STATE_DIR": str(tmp_path / "state"),
    }
    failed = certificates_cli("renew", env=elsewhere)
    assert failed.returncode == 1
    assert site.pebble.directory in failed.stderr
    assert "/.well-known/acme-challenge/" in failed.stderr and "404" in failed.stderr  # certbot's own reason
    assert "Fix: point the DNS records" in failed.stderr and "port 80" in failed.stderr
    health = certificates_cli("check", env=elsewhere)
    assert health.returncode == 1 and "certificates: failed at" in health.stdout


def test_a_certificate_from_another_directory_is_replaced_at_once(pebble_site):
    """A first try against Let's Encrypt's staging directory, then the real one: the staging certificate is not
    kept until it is due, it is replaced by the next run."""
    site = pebble_site
    if site.certificates("renew").returncode != 0:
        pytest.fail(f"no first certificate from Pebble:\n{site.pebble.log()}")
    before = site.wait_until_served()
    other = Pebble(http_port=site.nginx.app_port).start()
    try:
        moved = {**site.env, "TLS_ACME_DIRECTORY_URL": other.directory, "REQUESTS_CA_BUNDLE": str(other.listener_ca)}
        renewed = certificates_cli("renew", env=moved)
        assert renewed.returncode == 0 and "issued by the ACME CA, now served" in renewed.stdout, renewed.stderr
        served = site.wait_until_served(not_serial=before.serial_number)
        assert requests.get(site.url(APP, "/healthz"), verify=str(other.root()), timeout=10).status_code == 200
        assert served.issuer != before.issuer or served.serial_number != before.serial_number
    finally:
        other.stop()


# ---- what nginx does with https, whoever issued the certificate (the rehearsal CA here) ------------------------


def test_port_80_redirects_to_https_except_the_acme_challenges(rehearsal_site):
    site = rehearsal_site
    http = f"http://{APP}:{site.nginx.app_port}"
    moved = requests.get(f"{http}/locations/?page=2", allow_redirects=False, timeout=10)
    assert moved.status_code == 301 and moved.headers["Location"] == site.url(APP, "/locations/?page=2")
    challenges = site.nginx.certificates / "acme-challenge" / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True, exist_ok=True)
    (challenges / "token-123").write_text("token-123.thumbprint")
    answer = requests.get(f"{http}/.well-known/acme-challenge/token-123", allow_redirects=False, timeout=10)
    assert (answer.status_code, answer.text) == (200, "token-123.thumbprint")
    assert requests.get(f"{http}/.well-known/acme-challenge/missing", timeout=10).status_code == 404
    glitchtip_port = requests.get(f"http://{APP}:{site.nginx.glitchtip_port}/api/0/", allow_redirects=False, timeout=10)
    assert glitchtip_port.headers["Location"] == site.url(GLITCHTIP, "/api/0/")


def test_https_carries_hsts_once_and_the_app_sees_https(rehearsal_site):
    site = rehearsal_site
    response = requests.get(site.url(APP, "/accounts/login/"), verify=str(site.ca), timeout=10)
    assert response.status_code == 200
    assert response.raw.headers.getlist("Strict-Transport-Security") == ["max-age=600"]
    assert "Secure" in response.headers["Set-Cookie"]  # the app's csrftoken, as production sets it
    plain = requests.get(f"http://{APP}:{site.nginx.app_port}/nginx-health", timeout=10)
    assert plain.text == "ok\n" and "Strict-Transport-Security" not in plain.headers


def test_http2_is_offered_and_unknown_names_get_no_certificate(rehearsal_site):
    site = rehearsal_site
    context = ssl.create_default_context(cafile=str(site.ca))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", site.nginx.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=APP) as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"
    with (
        pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME|alert"),
        socket.create_connection(("127.0.0.1", site.nginx.https_port), timeout=5) as raw,
    ):
        context.wrap_socket(raw, server_hostname="elsewhere.example.test")


def test_the_rehearsal_certificate_verifies_against_its_ca_only(rehearsal_site):
    site = rehearsal_site
    assert requests.get(site.url(GLITCHTIP, "/api/0/"), verify=str(site.ca), timeout=10).status_code < 500
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(site.url(APP, "/healthz"), timeout=10)
    again = site.certificates("renew")
    assert again.returncode == 0 and "not due for renewal" in again.stdout


# ---- the TLS settings, checked with a real client ----------------------------------------------------------------


def rsa_files(folder: Path) -> bytes:
    """An operator's RSA certificate (a CA of its own, the chain in the file) and key, as one PEM stream: RSA so that
    the RSA-only weak ciphers (static RSA key exchange, CBC with RSA) could be negotiated if nginx allowed them."""
    from datetime import UTC, datetime, timedelta

    from certificates.rehearsal import subject_alternative_name

    now = datetime.now(UTC)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, APP)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(subject_alternative_name((APP, GLITCHTIP)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain, key_pem = pem.to_pem([leaf, ca], key)
    (folder / "fullchain.pem").write_bytes(chain)
    (folder / "privkey.pem").write_bytes(key_pem)
    return chain + key_pem


def handshake(port: int, *options: str) -> str | None:
    """openssl s_client with `options`: the negotiated "protocol cipher", or None when refused. The client's
    own floor is lowered (OPENSSL_CONF off, security level 0) so that only the server can refuse."""
    result = subprocess.run(
        [find_binary("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", APP, *options],
        input="",
        capture_output=True,
        text=True,
        timeout=15,
        env={**os.environ, "OPENSSL_CONF": "/dev/null"},
    )
    match = re.search(r"New, (\S+), Cipher is (\S+)", result.stdout)
    return (
        f"{match.group(1)} {match.group(2)}"
        if result.returncode == 0 and match and match.group(2) != "(NONE)"
        else None
    )


def client_ciphers() -> list[str]:
    """Every TLS 1.2 cipher the client has that an RSA certificate, or none (anonymous), could serve."""
    listed = subprocess.run(
        [find_binary("openssl"), "ciphers", "ALL:COMPLEMENTOFALL:!PSK:!SRP:!aECDSA:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OPENSSL_CONF": "/dev/null"},
    )
    return [cipher for cipher in listed.stdout.strip().split(":") if not cipher.startswith("TLS_")]


@pytest.fixture(scope="module")
def files_site(production_app, services, tmp_path_factory):
    site = tls_site("files", production_app, services).start()
    folder = tmp_path_factory.mktemp("operator-files")
    installed = site.certificates("install", stdin=rsa_files(folder))
    assert installed.returncode == 0, installed.stderr
    site.folder = folder
    # A server that accepts everything the client offers, to show that each refusal below is nginx's.
    port = free_port()
    control = subprocess.Popen(
        [
            find_binary("openssl"),
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-www",
            "-cert",
            str(folder / "fullchain.pem"),
            "-key",
            str(folder / "privkey.pem"),
            "-cipher",
            "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENSSL_CONF": "/dev/null"},
    )
    wait_for_port(port, control, what="openssl s_server")
    site.control_port = port
    try:
        site.wait_until_served(issued_by=x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes()))
        yield site
    finally:
        stop(control)
        site.stop()


def test_no_protocol_below_tls_1_2_is_accepted(files_site):
    site = files_site
    offered = {"-tls1": "TLSv1", "-tls1_1": "TLSv1.1", "-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}
    accepted = {
        name
        for option, name in offered.items()
        if handshake(site.nginx.https_port, option, "-cipher", "ALL:@SECLEVEL=0")
    }
    assert accepted == {"TLSv1.2", "TLSv1.3"}
    # The refusals are nginx's: the same client gets TLS 1.0 and 1.1 from a server that allows them.
    assert handshake(site.control_port, "-tls1", "-cipher", "ALL:@SECLEVEL=0")
    assert handshake(site.control_port, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")


def test_only_mozilla_intermediate_ciphers_are_accepted(files_site):
    site = files_site

    def outcome(cipher: str) -> tuple[str, bool, bool]:
        options = ("-tls1_2", "-cipher", f"{cipher}:@SECLEVEL=0")
        return cipher, bool(handshake(site.nginx.https_port, *options)), bool(handshake(site.control_port, *options))

    with ThreadPoolExecutor(max_workers=8) as pool:  # each handshake is a process that mostly waits
        outcomes = list(pool.map(outcome, client_ciphers()))
    accepted = {cipher for cipher, by_nginx, _ in outcomes if by_nginx}
    refused_but_possible = {cipher for cipher, by_nginx, by_control in outcomes if by_control and not by_nginx}
    assert accepted and accepted <= INTERMEDIATE, accepted - INTERMEDIATE
    # With an RSA certificate the weak kinds could be negotiated, and nginx refused them.
    for weak in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-GCM-SHA256"):
        assert weak in refused_but_possible, weak


# ---- the certificates service itself ------------------------------------------------------------------------------


def test_the_service_waits_for_its_schedule_checks_at_start_once_served_and_stops_at_once(tmp_path):
    env = {
        "TLS_MODE": "rehearsal",
        "APP_PUBLIC_URL": f"https://{APP}",
        "GLITCHTIP_PUBLIC_URL": f"https://{GLITCHTIP}",
        "CERTIFICATES_DIR": str(tmp_path / "served"),
        "CERTIFICATES_STATE_DIR": str(tmp_path / "state"),
    }

    def serve_until(line: str) -> str:
        """`python -m certificates serve` (the container's command) until it prints `line`, then SIGTERM."""
        process = subprocess.Popen(
            [sys.executable, "-m", "certificates", "serve"],
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
        )
        said = []
        for output in process.stdout:
            said.append(output)
            if line in output:
                break
        process.send_signal(signal.SIGTERM)
        said.append(process.stdout.read())
        assert process.wait(timeout=10) == 0
        return "".join(said)

    first = serve_until("checks at '17 3,15 * * *'")  # nothing served yet: it waits for scripts/up or the schedule
    assert "certificates: stopped" in first
    health = certificates_cli("check", env=env)
    assert health.returncode == 0 and "waiting" in health.stdout and "no certificate yet" in health.stdout
    assert certificates_cli("renew", env=env).returncode == 0
    again = serve_until("not due for renewal")  # with a certificate served, a check runs at start
    assert "certificates: stopped" in again
    health = certificates_cli("check", env=env)
    assert health.returncode == 0 and "certificates: ok at" in health.stdout and "90.0 days left" in health.stdout
