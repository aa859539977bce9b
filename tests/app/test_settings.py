"""Settings from the environment: embedded defaults, clear errors for bad values, deploy checks."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import requests

from tests.harness.blackhole import BlackHoleServer
from tests.harness.processes import REPO, free_port, stop, wait_for_port

BARE_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def manage_with(env: dict, *args: str, cwd=REPO / "app") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env={**BARE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=app_copy,
        env=BARE_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server, what="runserver")
        login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
        assert login.status_code == 200 and "Log in" in login.text
        assert requests.get(f"http://127.0.0.1:{port}/static/css/site.css", timeout=10).status_code == 200
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.json() == {"status": "ready", "database": "ok", "cache": "ok"}
    finally:
        stop(server)


def test_a_database_that_never_answers_fails_the_request_instead_of_holding_it():
    """As Postgres on a lost node: the TCP connection opens (or not) and nothing answers. The app gives up
    (its error page) rather than waiting for the kernel's timeouts with a gunicorn thread."""
    hole = BlackHoleServer().start()
    try:
        result = manage_with(
            {"DATABASE_URL": f"postgres://app:secret@127.0.0.1:{hole.port}/app"},
            "shell",
            "-c",
            "from django.db import connection; print(connection.settings_dict['OPTIONS']); "
            "connection.ensure_connection()",
        )
    finally:
        hole.stop()
    assert result.returncode != 0
    assert "timeout expired" in result.stderr
    assert "'tcp_user_timeout': 5000" in result.stdout


TRIES = """
import threading, time
from django.db import connections

def attempt():
    try:
        connections["default"].ensure_connection()
    except Exception as exc:
        print("failed:", exc)
    finally:
        connections["default"].close()

attempt()
others = [threading.Thread(target=attempt) for _ in range(3)]
[thread.start() for thread in others]
[thread.join() for thread in others]
time.sleep(2.2)
attempt()
"""


def test_after_a_database_that_never_answers_the_next_tries_fail_at_once_then_it_is_tried_again():
    """Each try at a server that never answers holds a thread for 2 s: under load every thread, and the
    site answers nothing (the data-node drill). After one failed try the process's next ones fail at once
    for 2 s without reaching the server; then it is tried again."""
    hole = BlackHoleServer().start()
    try:
        result = manage_with({"DATABASE_URL": f"postgres://app:secret@127.0.0.1:{hole.port}/app"}, "shell", "-c", TRIES)
        reached = len(hole.connections)
    finally:
        hole.stop()
    failures = [line for line in result.stdout.splitlines() if line.startswith("failed:")]
    assert len(failures) == 5, result.stdout + result.stderr
    assert "timeout expired" in failures[0] and "timeout expired" in failures[-1]
    assert all("not tried again for" in line and "timeout expired" in line for line in failures[1:4])
    assert reached == 2


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DJANGO_DEBUG": "maybe"}, "'DJANGO_DEBUG': ['Not a valid boolean.']"),
        ({"SENTRY_TRACES_SAMPLE_RATE": "1.5"}, "'SENTRY_TRACES_SAMPLE_RATE': ['Must be greater than or equal to 0.0"),
        ({"SENTRY_PROFILES_SAMPLE_RATE": "lots"}, "'SENTRY_PROFILES_SAMPLE_RATE': ['Not a valid number.']"),
        ({"SENTRY_ENABLED": "yes please"}, "'SENTRY_ENABLED': ['Not a valid boolean.']"),
        ({"SENTRY_DSN": "glitchtip:8000/1"}, "'SENTRY_DSN': [\"Not a valid DSN"),
        ({"DATABASE_URL": "postgres//nohost"}, "'DATABASE_URL': ['Not a valid database URL.']"),
        ({"REDIS_URL": "http://redis:6379"}, "'REDIS_URL': ['Not a valid URL.']"),
        ({"OPEN_METEO_FORECAST_URL": "api.open-meteo.com"}, "'OPEN_METEO_FORECAST_URL': ['Not a valid URL.']"),
        ({"LLM_TIMEOUT": "-1"}, "'LLM_TIMEOUT'"),
        (
            {"RATELIMIT_PLACE_SEARCH": "ten a minute"},
            "'RATELIMIT_PLACE_SEARCH': ['Not a rate like 10/m, 30/h or 5/10m.']",
        ),
        ({"RATELIMIT_FORECAST_FETCH": "5/0m"}, "'RATELIMIT_FORECAST_FETCH': ['Not a rate like"),
        ({"MAX_LOCATIONS_PER_USER": "0"}, "'MAX_LOCATIONS_PER_USER': ['Must be greater than or equal to 1"),
        ({"LOGIN_FAILURE_LIMIT": "many"}, "'LOGIN_FAILURE_LIMIT': ['Not a valid integer.']"),
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false."),
        # Schemes the app's parser does not know (mail would silently go to localhost:25).
        ({"EMAIL_URL": "smtq://u:p@smtp.example.com:587"}, "EMAIL_URL has a scheme the e-mail URL parser does not"),
        ({"EMAIL_URL": "consolemail://"}, "use smtp://, smtp+tls:// (STARTTLS), smtp+ssl:// or console://"),
    ],
    ids=lambda v: f"{next(iter(v))}={next(iter(v.values()))}" if isinstance(v, dict) else None,
)
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
    result = manage_with(
        {**PRODUCTION, "DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "short"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr and "security.W009" in result.stderr


def test_migrations_are_in_step_with_the_models():
    result = manage_with({}, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_email_url_mail_is_printed_to_the_console_and_sending_works(app_copy):
    """No environment: the console backend; sending succeeds (the old default's SMTP fallback failed)."""
    script = (
        "from django.core.mail import send_mail; from django.conf import settings; "
        "print(settings.EMAIL_BACKEND); send_mail('hello', 'body of the test mail', None, ['a@example.com'])"
    )
    result = manage_with({}, "shell", "--no-imports", "-c", script, cwd=app_copy)
    assert result.returncode == 0, result.stderr
    assert "console.EmailBackend" in result.stdout
    assert "body of the test mail" in result.stdout


def test_the_debug_level_of_development_shows_the_apps_lines_not_each_http_connection(services):
    """env/development.env sets DJANGO_LOG_LEVEL=DEBUG; urllib3 would log every connection and request
    (each call to Open-Meteo, each envelope to GlitchTip) at DEBUG."""
    script = (
        "import logging, requests; "
        f"requests.get('{services.open_meteo.url}/v1/search?name=Berlin', timeout=10); "
        "logging.getLogger('forecast').debug('a debug line of the app')"
    )
    result = manage_with({"DJANGO_LOG_LEVEL": "DEBUG"}, "shell", "--no-imports", "-c", script)
    assert result.returncode == 0, result.stderr
    assert "a debug line of the app" in result.stderr
    assert "urllib3" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("url", "tls", "ssl"),
    [
        ("smtp+tls://u:p@smtp.example.com:587", "True", "False"),
        ("smtp+ssl://u:p@smtp.example.com:465", "False", "True"),
        ("submission://u:p@smtp.example.com:587", "True", "False"),
    ],
)
def test_glitchtip_s_spellings_of_tls_mean_the_same_to_the_app(url, tls, ssl):
    """GlitchTip (django-environ) and the app (dj-email-url) read one EMAIL_URL: the same TLS either way."""
    script = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)"
    result = manage_with({"EMAIL_URL": url}, "shell", "--no-imports", "-c", script)
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", tls, ssl], result.stderr


# ---- NAME_FILE: a setting read from a file (Docker and Kubernetes secrets) ----------------------

SHOW = "from django.conf import settings as s; import json; print(json.dumps({expression}))"


def show(env: dict, expression: str) -> str:
    result = manage_with(env, "shell", "--no-imports", "-c", SHOW.format(expression=expression))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "name, content, expression, expected",
    [
        ("DJANGO_SECRET_KEY", PRODUCTION["DJANGO_SECRET_KEY"], "s.SECRET_KEY", PRODUCTION["DJANGO_SECRET_KEY"]),
        (
            "DATABASE_URL",
            "postgres://app:pw-from-file@db.internal:5432/forecast",
            "[s.DATABASES['default'][k] for k in ('HOST', 'NAME', 'PASSWORD')]",
            ["db.internal", "forecast", "pw-from-file"],
        ),
        (
            "EMAIL_URL",
            "smtp://mailer:mail-pw@smtp.example.org:2525",
            "[s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_PASSWORD]",
            ["smtp.example.org", 2525, "mail-pw"],
        ),
        ("LLM_API_KEY", "sk-from-a-file-0123", "s.LLM_API_KEY", "sk-from-a-file-0123"),
        (
            "SENTRY_DSN",
            "http://0123456789abcdef0123456789abcdef@glitchtip-web:8000/1",
            "s.SENTRY.dsn",
            "http://0123456789abcdef0123456789abcdef@glitchtip-web:8000/1",
        ),
        (
            "HEARTBEAT_URLS",
            '{"collect_weather_data": "http://glitchtip-web:8000/api/0/heartbeat/x/"}',
            "s.HEARTBEAT_URLS",
            {"collect_weather_data": "http://glitchtip-web:8000/api/0/heartbeat/x/"},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v.isupper() else "",
)
def test_a_secret_is_read_from_the_file_named_by_name_file(tmp_path, name, content, expression, expected):
    secret = tmp_path / name.lower()
    secret.write_text(content + "\n")  # as `echo value > file` leaves it: the line break is dropped
    env = {**PRODUCTION, f"{name}_FILE": str(secret)}
    env.pop(name, None)
    assert show(env, expression) == expected


def test_a_secret_from_a_file_is_scrubbed_like_one_from_the_environment(tmp_path):
    (tmp_path / "llm").write_text("sk-scrub-me-please")
    assert "sk-scrub-me-please" in show({"LLM_API_KEY_FILE": str(tmp_path / "llm")}, "s.SENTRY.secret_values")


def test_name_and_name_file_both_set_is_refused_naming_both(tmp_path):
    (tmp_path / "key").write_text("x" * 60)
    result = manage_with({**PRODUCTION, "DJANGO_SECRET_KEY_FILE": str(tmp_path / "key")}, "check")
    assert result.returncode == 2
    assert "'DJANGO_SECRET_KEY_FILE'" in result.stderr and "not both" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_name_file_names_the_variable_and_the_path(tmp_path):
    missing = tmp_path / "no-such-secret"
    result = manage_with({"EMAIL_URL_FILE": str(missing), "LLM_API_KEY_FILE": str(tmp_path)}, "check")
    assert result.returncode == 2
    assert "'EMAIL_URL_FILE'" in result.stderr and f"Cannot read {missing}" in result.stderr
    assert "'LLM_API_KEY_FILE'" in result.stderr and f"Cannot read {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_value_in_a_file_is_reported_under_the_setting_name(tmp_path):
    (tmp_path / "db").write_text("postgres//nohost")
    result = manage_with({"DATABASE_URL_FILE": str(tmp_path / "db")}, "check")
    assert result.returncode == 2
    assert "'DATABASE_URL'" in result.stderr and "Not a valid database URL" in result.stderr
