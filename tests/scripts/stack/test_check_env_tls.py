"""scripts/check-env and HTTPS: the TLS settings, addresses and cookies that cannot work together are refused,
each with its cause and its fix in the operator's own layer (env/ENV.local.env)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certificates.rehearsal import subject_alternative_name

APP, GLITCHTIP = "forecast.example.org", "glitchtip.forecast.example.org"  # tests/harness/bundle.py's FILLED


def check_env(bundle, settings: dict[str, str], refuses: bool) -> str:
    """check-env production after `settings` were set in the operator's layer: what it says, refusing or not."""
    bundle.prepare("production")
    bundle.set(bundle.local_file("production"), **settings)
    result = bundle.run("check-env", "production")
    assert result.returncode == (1 if refuses else 0), result.stdout + result.stderr
    return result.stderr if refuses else result.stdout


def refused(bundle, **settings: str) -> str:
    return check_env(bundle, settings, refuses=True)


def accepted(bundle, **settings: str) -> str:
    return check_env(bundle, settings, refuses=False)


# ---- https addresses, Secure cookies and the redirect ---------------------------------------------------------


# Plain http behind a terminator in front of nginx, which nginx trusts.
PLAIN_HTTP = {
    "TLS_MODE": "off",
    "COMPOSE_PROFILES": "backup",
    "NGINX_TRUSTED_PROXY_CIDR": "172.18.0.1/32",
    "APP_PUBLIC_URL": f"http://{APP}",
    "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://{APP}",
    "GLITCHTIP_PUBLIC_URL": f"http://{GLITCHTIP}",
}
SECURE_SETTINGS_OFF = {
    name: "false"
    for name in (
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SESSION_COOKIE_SECURE",
        "DJANGO_CSRF_COOKIE_SECURE",
        "GLITCHTIP_SECURE_COOKIES",
    )
}


def test_an_http_address_with_secure_cookies_or_the_redirect_is_refused_naming_them(bundle):
    said = refused(bundle, **PLAIN_HTTP)
    assert "APP_PUBLIC_URL is http://" in said and "DJANGO_SESSION_COOKIE_SECURE" in said and "Secure cookies" in said
    assert "GLITCHTIP_PUBLIC_URL is http://" in said and "GLITCHTIP_SECURE_COOKIES" in said
    assert "env/production.local.env" in said


def test_plain_http_on_purpose_passes_once_the_secure_settings_are_off(bundle):
    accepted(bundle, **PLAIN_HTTP, **SECURE_SETTINGS_OFF)


def test_nginx_serving_https_needs_https_addresses_with_a_host_name_each(bundle):
    said = refused(bundle, GLITCHTIP_PUBLIC_URL=f"http://{APP}:8001")
    assert "TLS_MODE=acme serves it over https" in said and "GLITCHTIP_PUBLIC_URL has the app's host name" in said


def test_the_app_must_allow_its_own_host_and_origin(bundle):
    said = refused(
        bundle, DJANGO_ALLOWED_HOSTS="www.example.org", DJANGO_CSRF_TRUSTED_ORIGINS="https://www.example.org"
    )
    assert f"DJANGO_ALLOWED_HOSTS does not allow {APP}" in said
    assert f"DJANGO_CSRF_TRUSTED_ORIGINS does not trust https://{APP}" in said
    accepted(bundle, DJANGO_ALLOWED_HOSTS=".example.org", DJANGO_CSRF_TRUSTED_ORIGINS="https://*.example.org")


# ---- where the certificate comes from -----------------------------------------------------------------------


@pytest.mark.parametrize("address", ["203.0.113.7", "localhost", "forecast.localhost"])
def test_acme_refuses_an_ip_address_or_localhost(bundle, address):
    said = refused(
        bundle,
        APP_PUBLIC_URL=f"https://{address}",
        DJANGO_ALLOWED_HOSTS=address,
        DJANGO_CSRF_TRUSTED_ORIGINS=f"https://{address}",
    )
    assert f"APP_PUBLIC_URL names {address}" in said and "no ACME CA issues a certificate" in said
    assert "TLS_MODE=rehearsal" in said  # the fix before the domain exists


def test_a_rehearsal_passes_with_a_note_that_only_this_machine_trusts_it(bundle):
    said = accepted(
        bundle,
        TLS_MODE="rehearsal",
        APP_PUBLIC_URL="https://forecast.localhost",
        GLITCHTIP_PUBLIC_URL="https://glitchtip.localhost",
        DJANGO_ALLOWED_HOSTS="forecast.localhost",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://forecast.localhost",
    )
    assert "Note: TLS_MODE=rehearsal" in said and "env/production.rehearsal-ca.pem" in said


def test_off_needs_the_terminator_in_front_to_be_trusted(bundle):
    said = refused(bundle, TLS_MODE="off", COMPOSE_PROFILES="backup")
    assert "NGINX_TRUSTED_PROXY_CIDR is empty while TLS_MODE=off" in said and "redirect" in said
    accepted(bundle, TLS_MODE="off", COMPOSE_PROFILES="backup", NGINX_TRUSTED_PROXY_CIDR="172.18.0.1/32")


def test_the_certificates_service_runs_exactly_when_a_mode_needs_it(bundle):
    assert "COMPOSE_PROFILES lacks certificates" in refused(bundle, COMPOSE_PROFILES="backup")
    assert "Fix: set COMPOSE_PROFILES=backup,certificates in env/production.local.env" in refused(
        bundle, COMPOSE_PROFILES="backup"
    )
    said = refused(
        bundle, TLS_MODE="off", NGINX_TRUSTED_PROXY_CIDR="172.18.0.1/32", COMPOSE_PROFILES="backup,certificates"
    )
    assert "COMPOSE_PROFILES has certificates while TLS_MODE=off" in said


def test_an_unknown_mode_is_refused(bundle):
    assert "TLS_MODE is 'letsencrypt'" in refused(bundle, TLS_MODE="letsencrypt")


# ---- the operator's own certificate (TLS_MODE=files) ----------------------------------------------------------


class Issuer:
    """A private CA with an intermediate, as a company's CA would issue the operator's certificate."""

    def __init__(self):
        self.root_key, self.key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        self.root = self.certificate("Test Root CA", self.root_key, self.root_key, None, ca=True)
        self.intermediate = self.certificate("Test Intermediate CA", self.key, self.root_key, self.root, ca=True)

    @staticmethod
    def certificate(name, key, signer_key, signer, ca=False, hosts=(), days=(-1, 30)):
        now = datetime.now(UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(signer.subject if signer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + timedelta(days=days[0]))
            .not_valid_after(now + timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if hosts:
            builder = builder.add_extension(subject_alternative_name(tuple(hosts)), critical=False)
        return builder.sign(signer_key, hashes.SHA256())

    def leaf(self, key, hosts=(APP, GLITCHTIP), days=(-1, 30)):
        return self.certificate(hosts[0], key, self.key, self.intermediate, hosts=hosts, days=days)


def write(folder: Path, name: str, *items) -> str:
    data = b"".join(
        item.public_bytes(serialization.Encoding.PEM)
        if isinstance(item, x509.Certificate)
        else item.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for item in items
    )
    (folder / name).write_bytes(data)
    return str(folder / name)


@pytest.fixture
def issuer():
    return Issuer()


def files(tmp_path, issuer, chain, key) -> dict[str, str]:
    """The operator's files as the settings of TLS_MODE=files name them (the CA's root in TLS_CA_FILE)."""
    return {
        "TLS_MODE": "files",
        "TLS_CERTIFICATE_FILE": write(tmp_path, "fullchain.pem", *chain),
        "TLS_KEY_FILE": write(tmp_path, "privkey.pem", key),
        "TLS_CA_FILE": write(tmp_path, "ca.pem", issuer.root),
    }


@pytest.fixture
def leaf_key():
    return ec.generate_private_key(ec.SECP256R1())


def test_the_operator_s_certificate_passes_with_its_chain_and_key(bundle, tmp_path, issuer, leaf_key):
    accepted(bundle, **files(tmp_path, issuer, [issuer.leaf(leaf_key), issuer.intermediate], leaf_key))


def test_files_that_are_not_set_or_cannot_be_read_are_named(bundle, tmp_path):
    said = refused(bundle, TLS_MODE="files")
    assert "TLS_CERTIFICATE_FILE is empty while TLS_MODE=files" in said and "TLS_KEY_FILE is empty" in said
    said = refused(
        bundle,
        TLS_MODE="files",
        TLS_CERTIFICATE_FILE=str(tmp_path / "nope.pem"),
        TLS_KEY_FILE=str(tmp_path / "nope-key.pem"),
    )
    assert f"TLS_CERTIFICATE_FILE cannot be read: {tmp_path / 'nope.pem'}" in said


def test_a_key_of_another_certificate_is_refused(bundle, tmp_path, issuer, leaf_key):
    said = refused(
        bundle,
        **files(
            tmp_path, issuer, [issuer.leaf(leaf_key), issuer.intermediate], ec.generate_private_key(ec.SECP256R1())
        ),
    )
    assert "TLS_KEY_FILE does not belong to the certificate" in said


def test_an_expired_certificate_is_refused(bundle, tmp_path, issuer, leaf_key):
    said = refused(
        bundle, **files(tmp_path, issuer, [issuer.leaf(leaf_key, days=(-90, -1)), issuer.intermediate], leaf_key)
    )
    assert "TLS_CERTIFICATE_FILE expired on" in said


def test_a_certificate_for_other_names_is_refused(bundle, tmp_path, issuer, leaf_key):
    said = refused(
        bundle, **files(tmp_path, issuer, [issuer.leaf(leaf_key, hosts=(APP,)), issuer.intermediate], leaf_key)
    )
    assert f"TLS_CERTIFICATE_FILE is not valid for {GLITCHTIP}" in said


def test_a_certificate_without_its_chain_is_refused(bundle, tmp_path, issuer, leaf_key):
    said = refused(bundle, **files(tmp_path, issuer, [issuer.leaf(leaf_key)], leaf_key))
    assert "TLS_CERTIFICATE_FILE comes without its chain" in said and "issuer: CN=Test Intermediate CA" in said


def test_a_private_ca_needs_naming_in_tls_ca_file(bundle, tmp_path, issuer, leaf_key):
    settings = files(tmp_path, issuer, [issuer.leaf(leaf_key), issuer.intermediate], leaf_key)
    said = refused(bundle, **{**settings, "TLS_CA_FILE": ""})  # against the public roots: nobody issued it
    assert "TLS_CERTIFICATE_FILE comes without its chain" in said and "issuer: CN=Test Root CA" in said


def test_an_encrypted_key_is_refused(bundle, tmp_path, issuer, leaf_key):
    settings = files(tmp_path, issuer, [issuer.leaf(leaf_key), issuer.intermediate], leaf_key)
    Path(settings["TLS_KEY_FILE"]).write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    assert "is encrypted with a passphrase, which nginx cannot type in at start" in refused(bundle, **settings)
