"""Fixtures for the app tests on top of tests/conftest.py."""
import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login failures and rate-limit counts live in the (real Redis) cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()
