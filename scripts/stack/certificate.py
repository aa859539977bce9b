"""nginx serves the certificate TLS_MODE says, and it verifies (scripts/up and scripts/swarm-deploy).

Usage: python3 -m scripts.stack.certificate ENV [--timeout 120]

    acme       the certificates service gets it now (certbot, HTTP-01 through nginx), or renews it when
               due: the first certificate comes here, the later ones by the service's own schedule
    rehearsal  the certificates service issues it from the stack's own CA (made on first use), whose
               certificate is saved as env/ENV.rehearsal-ca.pem for the scripts (and you) to trust
    files      TLS_CERTIFICATE_FILE and TLS_KEY_FILE, which check-env has checked, are installed
    off        nothing: TLS ends in front of nginx

Then it waits until nginx serves the certificate to both public host names (its watcher reloads nginx
within NGINX_CERTIFICATE_CHECK_SECONDS) with a TLS handshake that verifies against the CA the scripts
trust (scripts/settings/tls.py), as the bootstrap, the smoke test and browsers will.
Exit status: 0 served and verified, 1 the service could not get it (its reason above), 2 configuration,
24 not served or not verified in time.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import certifi

from certificates.settings import ACME, FILES, OFF, REHEARSAL
from scripts._steps import StepFailed, Steps
from scripts.settings import envfiles, tls
from scripts.stack import engine, stack_runtime

if TYPE_CHECKING:
    import subprocess

WAIT_SECONDS = 120.0
# certbot's own limit for a run (certificates/acme.py), and a margin.
RUN_TIMEOUT = 660


def in_service(env: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m certificates ARGS` in the running certificates service (Compose or Swarm alike)."""
    try:
        command = stack_runtime.exec_command(env, "certificates", ["python", "-m", "certificates", *args])
        return engine.run(
            command,
            timeout=RUN_TIMEOUT,
            input=stdin or b"",
            text=False,
            fix=f"see scripts/compose {env} logs certificates",
        )
    except envfiles.EnvError as exc:  # engine.EngineError too: it did not finish in time
        raise StepFailed(
            1, str(exc), "start the stack (scripts/up) and wait until the certificates service runs"
        ) from None


def obtain(env: str, values: dict[str, str]) -> str:
    """The mode's certificate in the certificates service's volume; returns what the service said."""
    mode = values["TLS_MODE"]
    if mode == FILES:
        data = b"".join(
            tls.path_setting(values[name]).read_bytes() for name in ("TLS_CERTIFICATE_FILE", "TLS_KEY_FILE")
        )
        result = in_service(env, "install", stdin=data)
    else:
        result = in_service(env, "renew")
    said = (result.stdout + result.stderr).decode(errors="replace").strip()
    if result.returncode != 0:
        raise StepFailed(
            1,
            f"the certificates service could not get the certificate:\n{said}",
            f"see the reason above; scripts/compose {env} logs certificates has the whole story",
        )
    if mode == REHEARSAL:
        authority = in_service(env, "ca")
        path = envfiles.rehearsal_ca_file(env)
        if authority.returncode != 0 or b"BEGIN CERTIFICATE" not in authority.stdout:
            raise StepFailed(
                1,
                f"the rehearsal CA's certificate could not be read: {authority.stderr.decode()}",
                f"scripts/compose {env} logs certificates",
            )
        envfiles.write_atomically(path, authority.stdout.decode(), mode=0o644)
        said += f"\nits CA's certificate: {path.relative_to(envfiles.REPO)} (trust it in a browser to browse there)"
    return said.removeprefix("certificates: ")


def verified(url: str, trust: str | bool) -> str:
    """The TLS handshake a client makes with `url`'s host: the served certificate's expiry, or why it fails."""
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=trust if isinstance(trust, str) else certifi.where())
    with (
        socket.create_connection((parts.hostname, parts.port or 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=parts.hostname) as connection,
    ):
        return str((connection.getpeercert() or {}).get("notAfter", "?"))


def wait_until_served(env: str, values: dict[str, str], timeout: float) -> str:
    trust = tls.trust(env, values)
    urls = {values[name] for name in ("APP_PUBLIC_URL", "GLITCHTIP_PUBLIC_URL")}
    deadline = time.monotonic() + timeout
    while True:
        try:
            until = {verified(url, trust) for url in urls}
            anchor = trust if isinstance(trust, str) else "the public CAs"
            return (
                f"{', '.join(sorted(tls.host(url) for url in urls))} verified against {anchor} "
                f"(valid until {', '.join(until)})"
            )
        except (OSError, ssl.SSLError) as exc:
            if time.monotonic() > deadline:
                raise StepFailed(
                    24,
                    f"nginx does not serve a certificate that verifies for {', '.join(sorted(urls))}"
                    f" within {timeout:.0f} s: {exc}",
                    f"check that the public host names reach this host's port "
                    f"{values.get('NGINX_HTTPS_PORT') or 443}, and scripts/compose {env} logs nginx "
                    "certificates",
                ) from None
            time.sleep(2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="certificate", description=__doc__.split("\n")[0])
    parser.add_argument("env")
    parser.add_argument("--timeout", type=float, default=WAIT_SECONDS, help="seconds to wait until nginx serves it")
    args = parser.parse_args(argv[1:])
    steps = Steps("certificate", 2)
    try:
        env = envfiles.environment(args.env)
        values = envfiles.read_environment(env)
        mode = values.get("TLS_MODE", "")
        if mode == OFF:
            print("TLS_MODE=off: TLS ends in front of nginx, nothing to do here")
            return 0
        source = {
            ACME: f"from {values.get('TLS_ACME_DIRECTORY_URL')}",
            REHEARSAL: "from the rehearsal CA",
            FILES: "from TLS_CERTIFICATE_FILE and TLS_KEY_FILE",
        }.get(mode, "")
        with steps.step(f"the certificate {source}") as out:
            out["result"] = obtain(env, values)
        with steps.step("nginx serves it") as out:
            out["result"] = wait_until_served(env, values, args.timeout)
    except envfiles.EnvError as exc:
        print(f"certificate: {exc}", file=sys.stderr)
        return 2
    except StepFailed as error:
        return steps.fail(error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
