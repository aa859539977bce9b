"""Fixtures over the harness (tests/harness/): each service starts when a test first uses it."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sentry_sdk
from django.core.management import call_command

from tests.glitchtip.double import GlitchTipDouble
from tests.harness import plugin
from tests.harness.app import running_gunicorn
from tests.harness.bundle import Bundle
from tests.harness.services import Services


@pytest.fixture(scope="session")
def services() -> Services:
    """The registry: `services.postgres`, `services.sentry`... start what is touched."""
    assert plugin.services is not None
    return plugin.services


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, services):
    """Before pytest-django creates the test database: what the app reaches without being asked
    (its database, cache, mail server and weather API) is running, and its static files exist
    (DEBUG is off as in production, so pages need the hashed, compressed files)."""
    services.start("postgres", "redis", "smtp", "open_meteo")
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture
def glitchtip():
    """The GlitchTip double on loopback (the client's tests and the GlitchTip scripts' tests); events
    become readable 0.3 s after they are accepted."""
    double = GlitchTipDouble(ingest_delay=0.3).start()
    yield double
    double.stop()


@pytest.fixture
def bundle(tmp_path) -> Bundle:
    """A copy of the bundle's deployment files, to run the scripts against."""
    return Bundle(tmp_path / "bundle")


@pytest.fixture(autouse=True)
def _real_smtp(settings):
    """Django's test set-up swaps in the in-memory mail backend; the tests use the real SMTP server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture(autouse=True)
def _fresh_fakes(services):
    """Scripted answers and what arrived never leak from one test into the next (only running fakes)."""
    for fake in services.started_fakes():
        fake.reset()


@pytest.fixture
def open_meteo(services):
    return services.open_meteo


@pytest.fixture
def smtp(services):
    return services.smtp


@pytest.fixture
def llm(services, settings):
    """The LLM predictor switched on, talking to the local OpenAI-compatible server."""
    settings.LLM_BASE_URL = services.llm.url
    return services.llm


@pytest.fixture
def sentry_init(services, settings):
    """Initialise the app's Sentry set-up (config/sentry.py) against the local receiver.

    Returns a function taking SentryConfig overrides; the receiver collects what arrives.
    """
    from config.sentry import SentryConfig, init_sentry

    def init(**overrides):
        config = replace(
            SentryConfig(
                dsn=services.sentry.dsn(1),
                environment="test",
                release="migraine-forecast@test",
                traces_sample_rate=1.0,
                secret_values=settings.SENTRY.secret_values,
            ),
            **overrides,
        )
        settings.SENTRY = config
        init_sentry(config)
        return services.sentry

    yield init
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close()
    # Back to "no SDK", as in a process started without a DSN.
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_global_scope().clear()
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()


@pytest.fixture
def sentry(sentry_init):
    """The receiver, with Sentry initialised the default way (no PII, every transaction sampled)."""
    return sentry_init()


@pytest.fixture
def user(db, django_user_model):
    from accounts.models import HealthProfile

    account = django_user_model.objects.create_user("jane", "jane@example.com", "a-Long-test-passw0rd")
    HealthProfile.objects.create(user=account)
    return account


@pytest.fixture
def other_user(db, django_user_model):
    return django_user_model.objects.create_user("mallory", "mallory@example.com", "another-Long-passw0rd")


@pytest.fixture
def location(user):
    from forecast.models import Location

    return Location.objects.create(
        user=user, name="Berlin", country="Germany", latitude="52.52437", longitude="13.41053"
    )


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker):
    """DATABASE_URL of the test database pytest-django created, for processes outside pytest."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def gunicorn(test_database_url, services, tmp_path_factory):
    """The app under gunicorn, reporting to the local Sentry receiver (project 2).

    Tests that use it need `transactional_db`, so that what they write is committed and visible to it.
    """
    env = {
        "DATABASE_URL": test_database_url,
        "SENTRY_DSN": services.sentry.dsn(2),
        "SENTRY_TRACES_SAMPLE_RATE": "1.0",
        "SENTRY_RELEASE": "migraine-forecast@gunicorn-test",
        "DJANGO_USE_X_FORWARDED_FOR": "true",
    }
    with running_gunicorn(env, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log") as server:
        yield server
