"""TLS_MODE=acme: certbot gets and renews the certificate from the ACME directory, HTTP-01 through nginx.

certbot writes each challenge's answer into the webroot that nginx serves at
http://<host>/.well-known/acme-challenge/ on port 80 (nginx/templates/tls.conf.template); the CA
fetches it from there. `certbot certonly --keep-until-expiring` is one command for every case:
the first certificate, a renewal when certbot's own rule says it is due (ACME renewal information
from the CA, else a third of the lifetime left), and a new certificate when the host names changed.
A certificate from another directory (Let's Encrypt's staging one, tried first) is replaced at once.
Its account, keys and lineage stay in the service's state volume; the pair it issues is installed
for nginx (store.py) when it differs from the one served.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig

from certificates.settings import Settings
from certificates.store import FULLCHAIN, PRIVKEY, Store

# The lineage's name in certbot's configuration (letsencrypt/live/<name>/).
CERT_NAME = "migraine-forecast"


class AcmeError(Exception):
    """certbot could not get the certificate; the message carries certbot's own reason."""


def certbot() -> str:
    """The certbot installed with this Python (the pinned one), before any other on PATH."""
    found = shutil.which("certbot", path=os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")]))
    if not found:
        raise AcmeError("certbot is not installed (pip install -r certificates/requirements.txt)")
    return found


def command(settings: Settings, store: Store, force: bool = False) -> list[str]:
    state = settings.state
    contact = ["--email", settings.acme_email] if settings.acme_email else ["--register-unsafely-without-email"]
    return [
        certbot(),
        "certonly",
        "--non-interactive",
        "--agree-tos",
        *contact,
        "--no-eff-email",
        "--server",
        settings.acme_directory,
        "--webroot",
        "--webroot-path",
        str(store.webroot),
        "--cert-name",
        CERT_NAME,
        *(option for host in settings.hosts for option in ("--domain", host)),
        "--key-type",
        "ecdsa",
        "--force-renewal" if force else "--keep-until-expiring",
        "--config-dir",
        str(state / "letsencrypt"),
        "--work-dir",
        str(state / "work"),
        "--logs-dir",
        str(state / "logs"),
    ]


def lineage_directory(settings: Settings) -> str:
    """The ACME directory the current certificate came from (certbot's renewal configuration), or ""."""
    renewal = settings.state / "letsencrypt" / "renewal" / f"{CERT_NAME}.conf"
    found = re.search(r"(?m)^server = (\S+)$", renewal.read_text()) if renewal.exists() else None
    return found.group(1) if found else ""


def obtain(settings: Settings, store: Store, force: bool = False) -> str:
    """Get or renew the certificate if due (or `force`), and serve it; returns what happened."""
    previous = lineage_directory(settings)
    force = force or bool(previous and previous != settings.acme_directory)
    result = subprocess.run(command(settings, store, force), capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        # certbot prints the CA's reasons (domain, type, detail, hint) on stdout, its summary on stderr.
        said = "\n".join(
            line
            for line in (result.stdout + result.stderr).strip().splitlines()
            if line.strip() and not line.startswith(("Saving debug log", "Ask for help"))
        )
        raise AcmeError(
            f"certbot could not get a certificate for {', '.join(settings.hosts)} from "
            f"{settings.acme_directory}:\n{said}"
        )
    lineage = settings.state / "letsencrypt" / "live" / CERT_NAME
    fullchain, key = (lineage / FULLCHAIN).read_bytes(), (lineage / PRIVKEY).read_bytes()
    installed = store.install(fullchain, key)
    renewed = "not yet due for renewal" not in result.stdout
    return ("issued by the ACME CA" if renewed else "not due for renewal") + (", now served" if installed else "")
