"""Fixtures for the GlitchTip double's own tests: a fresh double on a hand-driven clock, and a
user with an organization, a team and a project, created through the API as a script would."""
from __future__ import annotations

import pytest

from tests.glitchtip.double import GlitchTipDouble, ManualClock
from tests.glitchtip.double.account import Account, make_account


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def glitchtip(clock):
    double = GlitchTipDouble(clock=clock).start()
    yield double
    double.stop()


@pytest.fixture
def account(glitchtip) -> Account:
    return make_account(glitchtip)
