"""The GlitchTip scripts over https: the bootstrap and the smoke test reach GlitchTip (the double) through the
bundle's TLS nginx and verify its certificate against the environment's CA (a rehearsal's, made by the
certificates service's own code); over plain http, GlitchTip's Secure session cookie is named as the cause
of the bootstrap's 401."""

from __future__ import annotations

import pytest

from tests.harness.tls import TLSSite
from tests.scripts.tracker.helpers import bootstrap
from tests.scripts.tracker.test_smoke_test import APP_CHECK, rows


def test_the_bootstrap_s_401_over_http_names_the_secure_session_cookie(bundle, glitchtip):
    glitchtip.secure_cookies = True  # GLITCHTIP_SECURE_COOKIES=true, while the address is http://
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 13
    assert "401" in result.stderr and "session cookie is Secure" in result.stderr
    assert "over https" in result.stderr
    assert "GLITCHTIP_SECURE_COOKIES=false in env/development.local.env" in result.stderr


@pytest.fixture
def https(bundle, glitchtip):
    """GlitchTip at https://localhost:PORT through the TLS nginx, its certificate from the rehearsal CA, whose
    certificate is where scripts/up saves it; the app's in-network address stays the plain http one."""
    site = TLSSite(
        "rehearsal", "127.0.0.1:9", glitchtip.url.removeprefix("http://"), "forecast.example.test", "localhost"
    ).start()
    glitchtip.secure_cookies = True
    glitchtip.domain = site.url("localhost")  # what GlitchTip puts into DSNs: its public address
    site.rehearse(bundle.root / "env" / "development.rehearsal-ca.pem")
    bundle.set(
        bundle.local_file("development"),
        TLS_MODE="rehearsal",
        GLITCHTIP_PUBLIC_URL=site.url("localhost"),
        GLITCHTIP_SECURE_COOKIES="true",
        GLITCHTIP_INTERNAL_URL=glitchtip.url,
    )
    yield site
    site.stop()


def test_bootstrap_and_smoke_test_verify_glitchtip_s_certificate_against_the_rehearsal_ca(bundle, glitchtip, https):
    provisioned = bundle.run("bootstrap-glitchtip", "development", "--no-create-admin")
    assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
    public, internal = bundle.secret("development", "SENTRY_PUBLIC_DSN"), bundle.secret("development", "SENTRY_DSN")
    assert public.startswith("https://") and f"@localhost:{https.nginx.https_port}/" in public
    assert internal.startswith("http://") and internal.endswith(f"@{glitchtip.url.removeprefix('http://')}/1")

    # The SDK's events go over https to the public DSN; the app's, as in the stack, to the in-network address.
    smoke = bundle.run(
        "smoke-test",
        "development",
        "--app-command",
        APP_CHECK,
        "--release",
        "migraine-forecast@tls",
        env={"SENTRY_DSN": internal, "SENTRY_ENVIRONMENT": "development", "SENTRY_RELEASE": "migraine-forecast@tls"},
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert len(rows(smoke.stdout)) == 8 and "smoke-test: every event arrived" in smoke.stdout


def test_a_certificate_this_machine_does_not_trust_stops_the_bootstrap_at_once(bundle, glitchtip, https):
    (bundle.root / "env" / "development.rehearsal-ca.pem").unlink()
    bundle.set(bundle.local_file("development"), TLS_CA_FILE="/etc/ssl/certs/ca-certificates.crt")
    result = bundle.run("bootstrap-glitchtip", "development", "--no-create-admin")
    assert result.returncode == 10
    assert "does not verify against /etc/ssl/certs/ca-certificates.crt" in result.stderr
    assert "env/development.rehearsal-ca.pem" in result.stderr  # where the fix looks
