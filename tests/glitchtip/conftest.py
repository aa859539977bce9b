"""Fixtures for the GlitchTip scripts (glitchtip/), run as subprocesses against the GlitchTip double."""
from __future__ import annotations

import pytest

from tests.glitchtip.double import GlitchTipDouble
from tests.glitchtip.helpers import ADMIN_EMAIL
from tests.harness.bundle import Bundle


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
