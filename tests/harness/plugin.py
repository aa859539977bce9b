"""pytest plugin: the app's settings point at the harness's services before Django reads them.

Loaded with `-p tests.harness.plugin` (pyproject.toml) so that it runs before pytest-django
configures Django: the services' ports are reserved and the app's settings set in the
environment, exactly as in a deployment. The services themselves start on first use
(services.py); nothing starts for a test that does not use them.
"""

from __future__ import annotations

import os

import pytest

from tests.harness.services import Services

services: Services | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global services
    services = Services()
    for name in [n for n in os.environ if n.startswith(("SENTRY_", "HEARTBEAT_URL"))]:
        del os.environ[name]  # a developer's own Sentry settings must not leak into the tests
    os.environ.update(services.app_environment())


def pytest_unconfigure(config):
    if services is not None:
        services.stop()
