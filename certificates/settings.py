"""The certificates service's settings, from its environment (compose.yml passes the env files' values)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# TLS_MODE: where nginx's certificate comes from (env/defaults.env says what each means).
ACME, FILES, REHEARSAL, OFF = "acme", "files", "rehearsal", "off"
MODES = (ACME, FILES, REHEARSAL, OFF)
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


class SettingsError(Exception):
    """A setting the service cannot work with; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    mode: str
    hosts: tuple[str, ...]  # what the certificate must name: the app's host, then GlitchTip's
    acme_directory: str
    acme_email: str
    schedule: str  # cron, UTC: when the service checks whether the certificate is due
    stack: str  # named in the rehearsal CA, so that an operator knows which stack made it
    served: Path  # the volume shared with nginx (store.py)
    state: Path  # the service's own: certbot's account and lineages, the rehearsal CA, the last run

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        mode = environ.get("TLS_MODE", "")
        if mode not in MODES:
            raise SettingsError(f"TLS_MODE is {mode!r}: use one of {', '.join(MODES)}")
        return cls(
            mode,
            public_hosts(environ),
            environ.get("TLS_ACME_DIRECTORY_URL") or LETS_ENCRYPT,
            environ.get("TLS_ACME_EMAIL", ""),
            environ.get("TLS_RENEW_SCHEDULE") or "17 3,15 * * *",
            environ.get("COMPOSE_PROJECT_NAME") or "migraine-forecast",
            Path(environ.get("CERTIFICATES_DIR") or "/certificates"),
            Path(environ.get("CERTIFICATES_STATE_DIR") or "/state"),
        )


def host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def public_hosts(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The host names of the app's and GlitchTip's public addresses, each once."""
    found = []
    for variable in ("APP_PUBLIC_URL", "GLITCHTIP_PUBLIC_URL"):
        name = host(environ.get(variable, ""))
        if not name:
            raise SettingsError(f"{variable} is {environ.get(variable, '')!r}, which names no host")
        if name not in found:
            found.append(name)
    return tuple(found)
