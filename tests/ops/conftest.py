"""Fixtures for the operations scripts, run as subprocesses against the GlitchTip double."""
from __future__ import annotations

import pytest

from tests.glitchtip_double import GlitchTipDouble
from tests.stack.bundle import Bundle

ADMIN_EMAIL = "admin@example.com"


@pytest.fixture
def glitchtip():
    """A GlitchTip on loopback; events become readable 0.3 s after they are accepted."""
    double = GlitchTipDouble(ingest_delay=0.3).start()
    yield double
    double.stop()


@pytest.fixture
def bundle(tmp_path, glitchtip) -> Bundle:
    """A development bundle whose admin exists in GlitchTip (as createsuperuser would leave it)."""
    bundle = Bundle(tmp_path / "bundle").prepare("development")
    password = bundle.secret("development", "GLITCHTIP_ADMIN_PASSWORD")
    glitchtip.create_user(ADMIN_EMAIL, password, superuser=True)
    return bundle


def bootstrap(bundle: Bundle, glitchtip, *args: str, env: str = "development"):
    return bundle.run("bootstrap-glitchtip", env, "--url", glitchtip.url, "--no-create-admin", *args)
