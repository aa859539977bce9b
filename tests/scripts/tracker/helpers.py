"""What the tests of the GlitchTip scripts (scripts/tracker/) share."""

from __future__ import annotations

import subprocess

from tests.glitchtip.double import GlitchTipDouble
from tests.harness.bundle import Bundle

# The admin of the development environment (env/development.env).
ADMIN_EMAIL = "admin@example.com"


def bootstrap(
    bundle: Bundle, glitchtip: GlitchTipDouble, *args: str, env: str = "development"
) -> subprocess.CompletedProcess:
    """scripts/bootstrap-glitchtip against the double (whose admin the fixture created)."""
    return bundle.run("bootstrap-glitchtip", env, "--url", glitchtip.url, "--no-create-admin", *args)
