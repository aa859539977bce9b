"""The app's outside world for the tests, each part started on first use.

Ports are fixed (and held) when the session begins, because Django reads its settings from the
environment once, before any test runs (see plugin.py). The servers themselves start when a
test first touches them, through an attribute here: `services.postgres`, `services.sentry`...
A test of compose.yml or of the scripts starts none of them.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from typing import Any

from tests.harness.llm_fake import API_KEY, LLMFake
from tests.harness.open_meteo_fake import OpenMeteoFake
from tests.harness.postgres import PostgresServer
from tests.harness.redis import RedisServer
from tests.harness.sentry_receiver import SentryReceiver
from tests.harness.smtp import SMTPServer

APP_DB_PASSWORD = secrets.token_urlsafe(18)
GLITCHTIP_DB_PASSWORD = secrets.token_urlsafe(18)
# The parts that keep per-test state (scripted answers, what arrived): reset before every test.
FAKES = ("smtp", "open_meteo", "llm", "sentry")


class Services:
    def __init__(self) -> None:
        # Constructing reserves a port (the HTTP fakes bind theirs); nothing runs yet.
        self._servers: dict[str, Any] = {
            "postgres": PostgresServer(),
            "redis": RedisServer(),
            "smtp": SMTPServer(),
            "open_meteo": OpenMeteoFake(),
            "llm": LLMFake(),
            "sentry": SentryReceiver(),
        }
        self._started: list[str] = []
        self.static_root = tempfile.mkdtemp(prefix="mf-static-")

    # ---- each part, started on first use ------------------------------------------
    @property
    def postgres(self) -> PostgresServer:
        return self._running("postgres")

    @property
    def redis(self) -> RedisServer:
        return self._running("redis")

    @property
    def smtp(self) -> SMTPServer:
        return self._running("smtp")

    @property
    def open_meteo(self) -> OpenMeteoFake:
        return self._running("open_meteo")

    @property
    def llm(self) -> LLMFake:
        return self._running("llm")

    @property
    def sentry(self) -> SentryReceiver:
        return self._running("sentry")

    def start(self, *names: str) -> None:
        for name in names:
            self._running(name)

    def _running(self, name: str) -> Any:
        server = self._servers[name]
        if name not in self._started:
            server.start()
            self._started.append(name)
            print(f"harness: started {name} on 127.0.0.1:{server.port}", file=sys.stderr)
            if name == "postgres":
                # The bundle's own init script creates the app's and GlitchTip's databases and roles.
                server.initialise_bundle(APP_DB_PASSWORD, GLITCHTIP_DB_PASSWORD)
                # pytest-django creates (and drops) test_app, so the app role may create databases in tests only.
                server.psql("ALTER ROLE app CREATEDB")
        return server

    def running(self) -> list[str]:
        """What has been started so far, in order."""
        return list(self._started)

    def started_fakes(self) -> list:
        """The running fakes that keep per-test state (scripted answers, what arrived)."""
        return [self._servers[name] for name in self._started if name in FAKES]

    # ---- the whole session ------------------------------------------------------
    def app_environment(self) -> dict[str, str]:
        """The app's settings, as a deployment sets them; the ports are known before anything starts."""
        servers = self._servers
        return {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
            "DATABASE_URL": servers["postgres"].url("app", APP_DB_PASSWORD, "app"),
            "REDIS_URL": servers["redis"].url(0),
            "EMAIL_URL": f"smtp://127.0.0.1:{servers['smtp'].port}",
            "DEFAULT_FROM_EMAIL": "Migraine Forecast <forecast@example.test>",
            "OPEN_METEO_FORECAST_URL": f"{servers['open_meteo'].url}/v1/forecast",
            "OPEN_METEO_GEOCODING_URL": f"{servers['open_meteo'].url}/v1/search",
            "OPEN_METEO_TIMEOUT": "2",
            "OPEN_METEO_BACKOFF": "0",
            "LLM_BASE_URL": "",
            "LLM_MODEL": "test-model",
            "LLM_API_KEY": API_KEY,
            "LLM_TIMEOUT": "2",
            "DJANGO_STATIC_ROOT": self.static_root,
            "SENTRY_ENVIRONMENT": "test",
        }

    def stop(self) -> None:
        for name in reversed(self._started):
            self._servers[name].stop()
        for name in ("open_meteo", "llm", "sentry"):  # their sockets were bound at construction
            if name not in self._started:
                self._servers[name].httpd.server_close()
        shutil.rmtree(self.static_root, ignore_errors=True)
