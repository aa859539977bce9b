"""Fixtures for the GlitchTip scripts (scripts/tracker/), run as subprocesses against the GlitchTip double."""

from __future__ import annotations

import pytest

from tests.harness.bundle import Bundle
from tests.scripts.tracker.helpers import ADMIN_EMAIL


@pytest.fixture
def bundle(tmp_path, glitchtip) -> Bundle:
    """A development bundle whose admin exists in GlitchTip (as createsuperuser would leave it)."""
    bundle = Bundle(tmp_path / "bundle").prepare("development")
    password = bundle.secret("development", "GLITCHTIP_ADMIN_PASSWORD")
    glitchtip.create_user(ADMIN_EMAIL, password, superuser=True)
    return bundle
