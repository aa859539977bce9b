"""env/<ENV>.local.env: the operator's own values, outside the tracked tree (made by scripts/secrets).

Made on first use and never overwritten. It holds every setting that the committed layers leave as
a !!!SET ...!!! placeholder (the public addresses, the senders, the GlitchTip admin), each with its
placeholder and the comment env/defaults.env gives it, so that check-env refuses to start until each
is set here; and, commented out, how to choose where the certificate comes from. Any other setting
can be set here as well (TLS_MODE, the ports...): this layer overrides the committed ones, so that
running the bundle never means editing a tracked file and the release stays the commit.
"""

from __future__ import annotations

import re
from pathlib import Path

from scripts.settings import envfiles

HEADER = """\
# ==============================================================================
# {ENV} on this host: your own values. Made by scripts/secrets; git-ignored, never overwritten.
# A layer over env/defaults.env and env/{env}.env (any of their settings can be set here too),
# under env/{env}.secrets.env. See the merged result with:  scripts/check-env {env} --show
# ==============================================================================
"""
PUBLIC_HTTPS = """
# ------------------------------------------------------------------------------
# HTTPS (env/defaults.env, "HTTPS"): nginx gets a certificate from Let's Encrypt for the hosts of
# APP_PUBLIC_URL and GLITCHTIP_PUBLIC_URL, which must point at this host, with ports 80 and 443 open.
# ------------------------------------------------------------------------------
# An address for Let's Encrypt's notices about your account (optional):
# TLS_ACME_EMAIL=you@your-domain
# Another source of the certificate, instead:
# TLS_MODE=rehearsal    a CA of this stack's own: production on this machine before the domain exists
# TLS_MODE=files        your own certificate, with TLS_CERTIFICATE_FILE=... and TLS_KEY_FILE=...
# TLS_MODE=off          a TLS terminator in front of nginx, with NGINX_TRUSTED_PROXY_CIDR=...
"""
DEVELOPMENT_HTTPS = """
# Plain http on localhost. To try production's https here instead: TLS_MODE=rehearsal, https://
# addresses with host names of their own, the secure settings of env/defaults.env, and
# COMPOSE_PROFILES=dev,certificates (docs/operations/production-and-tls.md).
"""


def comment_above(lines: list[str], key: str) -> list[str]:
    """The comment lines right above `key`'s assignment in an env file."""
    for index, line in enumerate(lines):
        if re.match(rf"{key}=", line):
            above: list[str] = []
            for previous in reversed(lines[:index]):
                if not previous.startswith("#") or previous.startswith("# ---"):
                    break
                above.insert(0, previous)
            return above
    return []


def text(env: str, root: Path = envfiles.REPO) -> str:
    committed: dict[str, str] = {}
    for layer in envfiles.layers(env, root):
        if not layer.created_by:
            committed.update(envfiles.read(layer.path))
    defaults = envfiles.defaults_file(root).read_text().splitlines()
    placeholders = [key for key, value in committed.items() if envfiles.PLACEHOLDER in value]
    parts = [HEADER.format(env=env, ENV=env.upper())]
    if placeholders:
        parts.append("\n# Your addresses and senders: replace each placeholder.\n")
        parts += ["\n".join([*comment_above(defaults, key), f"{key}={committed[key]}"]) + "\n" for key in placeholders]
    parts.append(DEVELOPMENT_HTTPS if env == "development" else PUBLIC_HTTPS)
    return "".join(parts)


def create(env: str, root: Path = envfiles.REPO) -> str:
    """Make the layer unless it exists; returns what was done, for the operator."""
    path = envfiles.local_file(env, root)
    relative = path.relative_to(root)
    with envfiles.locked(path):
        if path.exists():
            return f"{relative} exists; nothing changed"
        content = text(env, root)
        envfiles.write_atomically(path, content, mode=0o644)
    count = content.count(envfiles.PLACEHOLDER)
    return f"created {relative}" + (f": set the {count} values marked !!!SET there" if count else "")
