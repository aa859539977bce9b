"""scripts/up's certificate step (scripts/stack/certificate.py): the certificates service gets, issues or installs
the certificate TLS_MODE says, and the step waits until nginx serves it and a handshake with each public name
verifies against the CA the scripts trust. nginx is the bundle's (the TLS harness) and the service's code is its
own; the Docker engine is the boundary: a stand-in `docker` runs what `compose exec certificates` would run in the
service's container here, with that container's settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certificates import pem
from tests.harness.names import subprocess_environment
from tests.harness.tls import TLSSite
from tests.scripts.stack.test_check_env_tls import Issuer, write

APP, GLITCHTIP = "forecast.example.test", "glitchtip.example.test"
FAKE_DOCKER = """#!{python}
import json, os, subprocess, sys
args = sys.argv[1:]
if args[:2] == ["service", "ls"]:
    sys.exit(1)  # "This node is not a swarm manager": Compose
if args[:2] == ["compose", "version"]:
    print("Docker Compose version v2.29.7")
    sys.exit(0)
if args[0] == "compose" and "exec" in args and "certificates" in args:
    command = args[args.index("certificates") + 1:]
    service = json.loads(os.environ["FAKE_CERTIFICATES_ENV"])
    sys.exit(subprocess.run([sys.executable, *command[1:]], env={{**os.environ, **service}}).returncode)
sys.stderr.write("docker: unexpected call " + " ".join(args) + "\\n")
sys.exit(1)
"""


@pytest.fixture
def site(tmp_path):
    site = TLSSite("rehearsal", "127.0.0.1:9", "127.0.0.1:9", APP, GLITCHTIP)
    yield site
    site.stop()


def certificate_step(bundle, site: TLSSite, tmp_path, timeout: int = 30) -> subprocess.CompletedProcess:
    """`python3 -m scripts.stack.certificate production` as scripts/up runs it, in the bundle's copy."""
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_DOCKER.format(python=sys.executable))
    fake.chmod(0o755)
    service = {**site.env, "PYTHONPATH": str(bundle.root)}
    environment = {
        **bundle.environ(),
        "PATH": f"{fake.parent}:{bundle.environ()['PATH']}",
        "FAKE_CERTIFICATES_ENV": json.dumps(service),
        **subprocess_environment({APP: "127.0.0.1", GLITCHTIP: "127.0.0.1"}, str(bundle.root)),
    }
    return subprocess.run(
        [sys.executable, "-m", "scripts.stack.certificate", "production", "--timeout", str(timeout)],
        cwd=bundle.root,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )


def configure(bundle, site: TLSSite, mode: str, **settings: str) -> None:
    bundle.prepare("production")
    site.env["TLS_MODE"] = mode
    site.nginx.env["NGINX_TLS_MODE"] = mode
    bundle.set(
        bundle.local_file("production"),
        TLS_MODE=mode,
        APP_PUBLIC_URL=site.url(APP),
        GLITCHTIP_PUBLIC_URL=site.url(GLITCHTIP),
        DJANGO_ALLOWED_HOSTS=APP,
        DJANGO_CSRF_TRUSTED_ORIGINS=site.url(APP),
        **settings,
    )
    site.start()


def test_a_rehearsal_certificate_is_issued_its_ca_saved_and_nginx_serves_it_verified(bundle, site, tmp_path):
    configure(bundle, site, "rehearsal")
    assert site.served().issuer == site.served().subject  # nginx's temporary self-signed one, until the step
    result = certificate_step(bundle, site, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    saved = bundle.root / "env" / "production.rehearsal-ca.pem"
    authority = x509.load_pem_x509_certificate(saved.read_bytes())
    assert pem.issued_by(site.served(), authority) and pem.issued_by(site.served(GLITCHTIP), authority)
    assert f"verified against {saved}" in result.stdout
    again = certificate_step(bundle, site, tmp_path)
    assert again.returncode == 0 and "not due for renewal" in again.stdout  # scripts/up re-run: nothing new


def operator_s_files(bundle, site: TLSSite, tmp_path, trusted_root: x509.Certificate | None = None) -> Issuer:
    """TLS_MODE=files with a certificate of a private CA for both names; TLS_CA_FILE names `trusted_root`
    (default: that CA's own root)."""
    issuer, key = Issuer(), ec.generate_private_key(ec.SECP256R1())
    chain = write(tmp_path, "fullchain.pem", issuer.leaf(key, hosts=(APP, GLITCHTIP)), issuer.intermediate)
    configure(
        bundle,
        site,
        "files",
        TLS_CERTIFICATE_FILE=chain,
        TLS_KEY_FILE=write(tmp_path, "privkey.pem", key),
        TLS_CA_FILE=write(tmp_path, "ca.pem", trusted_root or issuer.root),
    )
    return issuer


def test_the_operator_s_files_are_installed_and_served_verified_against_their_ca(bundle, site, tmp_path):
    issuer = operator_s_files(bundle, site, tmp_path)
    result = certificate_step(bundle, site, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"verified against {tmp_path / 'ca.pem'}" in result.stdout
    assert site.served().issuer == issuer.intermediate.subject


def test_a_certificate_that_does_not_verify_fails_the_step_naming_the_names_and_where_to_look(bundle, site, tmp_path):
    operator_s_files(bundle, site, tmp_path, trusted_root=Issuer().root)  # another CA's root
    result = certificate_step(bundle, site, tmp_path, timeout=3)
    assert result.returncode == 24
    assert "does not serve a certificate that verifies" in result.stderr and "logs nginx certificates" in result.stderr
