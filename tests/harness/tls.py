"""A site served over https by the bundle's nginx (tests/harness/nginx.py, TLS_MODE acme, files or rehearsal),
with the settings its certificates service would get from compose.yml, and that service's own code to run.

The site's names exist only in the tests: the app's and GlitchTip's host names are given, and the
test resolves them (tests/harness/names.py), or uses localhost, which every process resolves.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509

from certificates import pem
from tests.harness.nginx import NginxServer
from tests.harness.processes import REPO


def certificates_cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m certificates ...` as the certificates service's container runs it (the pinned certbot)."""
    result = subprocess.run(
        [sys.executable, "-m", "certificates", *args],
        cwd=REPO,
        input=stdin or b"",
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())


class TLSSite:
    def __init__(
        self,
        tls_mode: str,
        app_upstream: str,
        glitchtip_upstream: str,
        app_host: str,
        glitchtip_host: str,
        hsts_seconds: int = 600,
        **settings: str,
    ):
        self.app_host, self.glitchtip_host = app_host, glitchtip_host
        self.nginx = NginxServer(app_upstream, glitchtip_upstream, tls_mode=tls_mode, hsts_seconds=hsts_seconds)
        # The public addresses carry the https port the test's nginx listens on (443 in a real stack).
        self.nginx.env.update(
            NGINX_APP_PUBLIC_URL=self.url(app_host), NGINX_GLITCHTIP_PUBLIC_URL=self.url(glitchtip_host)
        )
        self.state = Path(tempfile.mkdtemp(prefix="mf-certificates-state-"))
        self.env = {
            "TLS_MODE": tls_mode,
            "APP_PUBLIC_URL": self.url(app_host),
            "GLITCHTIP_PUBLIC_URL": self.url(glitchtip_host),
            "CERTIFICATES_DIR": str(self.nginx.certificates),
            "CERTIFICATES_STATE_DIR": str(self.state),
            "COMPOSE_PROJECT_NAME": "migraine-forecast-test",
            **settings,
        }

    def url(self, host: str, path: str = "") -> str:
        return f"https://{host}:{self.nginx.https_port}{path}"

    def start(self) -> TLSSite:
        self.nginx.start()
        return self

    def certificates(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return certificates_cli(*args, env=self.env, stdin=stdin)

    def served(self, host: str | None = None) -> x509.Certificate:
        """The certificate nginx presents to a client asking for `host` (not verified here)."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", self.nginx.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host or self.app_host) as tls,
        ):
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))

    def wait_until_served(
        self, issued_by: x509.Certificate | None = None, not_serial: int | None = None, timeout: float = 20
    ) -> x509.Certificate:
        """The served certificate once nginx (its watcher reloads it) serves the one asked for."""
        deadline = time.monotonic() + timeout
        while True:
            served = self.served()
            if (issued_by is None or pem.issued_by(served, issued_by)) and served.serial_number != not_serial:
                return served
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"nginx still serves {served.issuer.rfc4514_string()} #{served.serial_number}:"
                    f"\n{self.nginx.entrypoint_log()}"
                )
            time.sleep(0.2)

    def rehearse(self, ca_file: Path) -> Path:
        """TLS_MODE=rehearsal: the first certificate from the rehearsal CA, served; its CA saved to `ca_file`."""
        renewed = self.certificates("renew")
        assert renewed.returncode == 0, renewed.stderr
        ca_file.write_text(self.certificates("ca").stdout)
        self.wait_until_served(issued_by=x509.load_pem_x509_certificate(ca_file.read_bytes()))
        return ca_file

    def stop(self) -> None:
        self.nginx.stop()
        shutil.rmtree(self.state, ignore_errors=True)
