"""Fixtures for the app tests on top of tests/conftest.py."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache(services):
    """Login failures and rate-limit counts live in the (real Redis) cache: each test starts with none.
    Redis is started here too: a test that needs no database would otherwise find it not running."""
    services.start("redis")
    cache.clear()
    yield
    cache.clear()
