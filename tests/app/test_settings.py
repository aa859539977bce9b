"""Settings from the environment: embedded defaults, clear errors for bad values, deploy checks."""
import os
import shutil
import subprocess
import sys

import pytest
import requests

from tests.harness.processes import REPO, free_port, stop, wait_for_port

BARE_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def manage_with(env: dict, *args: str, cwd=REPO / "app") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env={**BARE_ENV, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def app_copy(tmp_path):
    """A copy of app/ so that the embedded SQLite database lands in a temporary folder."""
    target = tmp_path / "app"
    shutil.copytree(REPO / "app", target, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "staticfiles"))
    return target


def test_no_environment_at_all_migrates_and_serves_on_sqlite(app_copy):
    migrate = manage_with({}, "migrate", "--noinput", cwd=app_copy)
    assert migrate.returncode == 0, migrate.stderr
    assert (app_copy / "db.sqlite3").exists()
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=app_copy, env=BARE_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, what="runserver")
        login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
        assert login.status_code == 200 and "Log in" in login.text
        assert requests.get(f"http://127.0.0.1:{port}/static/css/site.css", timeout=10).status_code == 200
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.json() == {"status": "ready", "database": "ok", "cache": "ok"}
    finally:
        stop(server)


@pytest.mark.parametrize("env, message", [
    ({"DJANGO_DEBUG": "maybe"}, "'DJANGO_DEBUG': ['Not a valid boolean.']"),
    ({"SENTRY_TRACES_SAMPLE_RATE": "1.5"}, "'SENTRY_TRACES_SAMPLE_RATE': ['Must be greater than or equal to 0.0"),
    ({"SENTRY_PROFILES_SAMPLE_RATE": "lots"}, "'SENTRY_PROFILES_SAMPLE_RATE': ['Not a valid number.']"),
    ({"SENTRY_ENABLED": "yes please"}, "'SENTRY_ENABLED': ['Not a valid boolean.']"),
    ({"SENTRY_DSN": "glitchtip:8000/1"}, "'SENTRY_DSN': [\"Not a valid DSN"),
    ({"DATABASE_URL": "postgres//nohost"}, "'DATABASE_URL': ['Not a valid database URL.']"),
    ({"REDIS_URL": "http://redis:6379"}, "'REDIS_URL': ['Not a valid URL.']"),
    ({"OPEN_METEO_FORECAST_URL": "api.open-meteo.com"}, "'OPEN_METEO_FORECAST_URL': ['Not a valid URL.']"),
    ({"LLM_TIMEOUT": "-1"}, "'LLM_TIMEOUT'"),
    ({"RATELIMIT_PLACE_SEARCH": "ten a minute"}, "'RATELIMIT_PLACE_SEARCH': ['Not a rate like 10/m, 30/h or 5/10m.']"),
    ({"RATELIMIT_FORECAST_FETCH": "5/0m"}, "'RATELIMIT_FORECAST_FETCH': ['Not a rate like"),
    ({"MAX_LOCATIONS_PER_USER": "0"}, "'MAX_LOCATIONS_PER_USER': ['Must be greater than or equal to 1"),
    ({"LOGIN_FAILURE_LIMIT": "many"}, "'LOGIN_FAILURE_LIMIT': ['Not a valid integer.']"),
    ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false."),
    # Schemes the app's parser does not know (mail would silently go to localhost:25).
    ({"EMAIL_URL": "smtq://u:p@smtp.example.com:587"}, "EMAIL_URL has a scheme the e-mail URL parser does not"),
    ({"EMAIL_URL": "consolemail://"}, "use smtp://, smtp+tls:// (STARTTLS), smtp+ssl:// or console://"),
], ids=lambda v: f"{next(iter(v))}={next(iter(v.values()))}" if isinstance(v, dict) else None)
def test_bad_values_stop_start_up_naming_the_variable(env, message):
    result = manage_with(env, "check")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_every_bad_variable_is_reported_at_once():
    result = manage_with({"DJANGO_DEBUG": "maybe", "SENTRY_TRACES_SAMPLE_RATE": "2"}, "check")
    assert "DJANGO_DEBUG" in result.stderr and "SENTRY_TRACES_SAMPLE_RATE" in result.stderr


PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "q8ZrX2v#N5m@kT7w!pL3s$dF9gH1jK4yU6iO0eR-aB_cV8nM2xZ",
    "DJANGO_ALLOWED_HOSTS": "forecast.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://forecast.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SESSION_COOKIE_SECURE": "true",
    "DJANGO_CSRF_COOKIE_SECURE": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@glitchtip-web:8000/1",
    "SENTRY_ENVIRONMENT": "production",
    "SENTRY_TRACES_SAMPLE_RATE": "0.1",
    "SENTRY_PROFILES_SAMPLE_RATE": "0.1",
}


def test_check_deploy_passes_with_production_settings():
    result = manage_with(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_debug_and_a_weak_key():
    result = manage_with({**PRODUCTION, "DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "short"},
                         "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W018" in result.stderr and "security.W009" in result.stderr


def test_migrations_are_in_step_with_the_models():
    result = manage_with({}, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_email_url_mail_is_printed_to_the_console_and_sending_works(app_copy):
    """No environment: the console backend; sending succeeds (the old default's SMTP fallback failed)."""
    script = ("from django.core.mail import send_mail; from django.conf import settings; "
              "print(settings.EMAIL_BACKEND); send_mail('hello', 'body of the test mail', None, ['a@example.com'])")
    result = manage_with({}, "shell", "--no-imports", "-c", script, cwd=app_copy)
    assert result.returncode == 0, result.stderr
    assert "django.core.mail.backends.console.EmailBackend" in result.stdout
    assert "body of the test mail" in result.stdout


@pytest.mark.parametrize(("url", "tls", "ssl"), [
    ("smtp+tls://u:p@smtp.example.com:587", "True", "False"),
    ("smtp+ssl://u:p@smtp.example.com:465", "False", "True"),
    ("submission://u:p@smtp.example.com:587", "True", "False"),
])
def test_glitchtip_s_spellings_of_tls_mean_the_same_to_the_app(url, tls, ssl):
    """GlitchTip (django-environ) and the app (dj-email-url) read one EMAIL_URL: the same TLS either way."""
    script = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)"
    result = manage_with({"EMAIL_URL": url}, "shell", "--no-imports", "-c", script)
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", tls, ssl], result.stderr
