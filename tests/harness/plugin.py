"""pytest plugin that starts the real services before Django reads its settings.

Loaded with `-p tests.harness.plugin` (pytest.ini) so that it runs before pytest-django:
Postgres (initialised by the bundle's own init script), Redis, a real SMTP server and the
local stand-ins for Open-Meteo, the LLM and Sentry's ingest endpoint. The app's settings
then come from environment variables, exactly as in a deployment.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass

import pytest

from tests.harness.llm_fake import API_KEY, LLMFake
from tests.harness.open_meteo_fake import OpenMeteoFake
from tests.harness.postgres import PostgresServer
from tests.harness.processes import REPO
from tests.harness.redis import RedisServer
from tests.harness.sentry_receiver import SentryReceiver
from tests.harness.smtp import SMTPServer

APP_DB_PASSWORD = secrets.token_urlsafe(18)


@dataclass
class Services:
    postgres: PostgresServer
    redis: RedisServer
    smtp: SMTPServer
    open_meteo: OpenMeteoFake
    llm: LLMFake
    sentry: SentryReceiver
    static_root: str

    def stop(self):
        for service in (self.sentry, self.llm, self.open_meteo, self.smtp, self.redis, self.postgres):
            service.stop()


services: Services | None = None


def _start() -> Services:
    postgres = PostgresServer().start()
    try:
        postgres.run_init_script(REPO / "postgres/initdb.d/10-create-databases.sh", {
            "APP_DB_PASSWORD": APP_DB_PASSWORD, "GLITCHTIP_DB_PASSWORD": secrets.token_urlsafe(18)})
        # pytest-django creates (and drops) test_app, so the app role may create databases in tests only.
        postgres.psql("ALTER ROLE app CREATEDB")
        return Services(postgres, RedisServer().start(), SMTPServer().start(), OpenMeteoFake().start(),
                        LLMFake().start(), SentryReceiver().start(), tempfile.mkdtemp(prefix="mf-static-"))
    except BaseException:
        postgres.stop()
        raise


def app_environment(s: Services) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
        "DATABASE_URL": s.postgres.url("app", APP_DB_PASSWORD, "app"),
        "REDIS_URL": s.redis.url(0),
        "EMAIL_URL": f"smtp://127.0.0.1:{s.smtp.port}",
        "DEFAULT_FROM_EMAIL": "Migraine Forecast <forecast@example.test>",
        "OPEN_METEO_FORECAST_URL": f"{s.open_meteo.url}/v1/forecast",
        "OPEN_METEO_GEOCODING_URL": f"{s.open_meteo.url}/v1/search",
        "OPEN_METEO_TIMEOUT": "2",
        "OPEN_METEO_BACKOFF": "0",
        "LLM_BASE_URL": "",
        "LLM_MODEL": "test-model",
        "LLM_API_KEY": API_KEY,
        "LLM_TIMEOUT": "2",
        "DJANGO_STATIC_ROOT": s.static_root,
        "SENTRY_ENVIRONMENT": "test",
    }


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global services
    services = _start()
    for name in [n for n in os.environ if n.startswith(("SENTRY_", "HEARTBEAT_URL_"))]:
        del os.environ[name]  # a developer's own Sentry settings must not leak into the tests
    os.environ.update(app_environment(services))


def pytest_unconfigure(config):
    if services is not None:
        services.stop()
        shutil.rmtree(services.static_root, ignore_errors=True)
