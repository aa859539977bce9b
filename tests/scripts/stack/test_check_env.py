"""scripts/secrets and scripts/check-env: secrets generated once, unsafe configurations refused."""

import re
import stat
import subprocess
import sys

import pytest


def test_secrets_are_generated_once_and_never_overwritten(bundle):
    first = bundle.run("secrets", "production")
    assert first.returncode == 0 and "created env/production.secrets.env" in first.stdout
    path = bundle.secrets_file("production")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    original = path.read_text()
    values = bundle.values(path)
    assert len(values["DJANGO_SECRET_KEY"]) >= 50 and len(values["GLITCHTIP_SECRET_KEY"]) == 64
    assert len({values[k] for k in ("POSTGRES_PASSWORD", "APP_DB_PASSWORD", "GLITCHTIP_DB_PASSWORD")}) == 3
    again = bundle.run("secrets", "production")
    assert "nothing changed" in again.stdout and path.read_text() == original


def test_a_missing_key_is_added_and_everything_else_kept_byte_for_byte(bundle):
    path = bundle.secrets_file("staging")
    path.write_text("# my notes\nDJANGO_SECRET_KEY=mine-and-long-enough-to-be-kept-0123456789abcdefghij\nCUSTOM=1")
    result = bundle.run("secrets", "staging")
    assert "added" in result.stdout and "existing values kept" in result.stdout
    text = path.read_text()
    assert text.startswith(
        "# my notes\nDJANGO_SECRET_KEY=mine-and-long-enough-to-be-kept-0123456789abcdefghij\nCUSTOM=1\n"
    )
    assert "APP_DB_PASSWORD=" in text and text.count("DJANGO_SECRET_KEY=") == 1


def test_unknown_environment_is_refused(bundle):
    result = bundle.run("secrets", "prod")
    assert result.returncode == 2 and "unknown environment 'prod'" in result.stderr


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_a_prepared_environment_passes(bundle, env):
    bundle.prepare(env)
    result = bundle.run("check-env", env)
    assert result.returncode == 0, result.stderr
    assert f"check-env {env}: OK" in result.stdout


def test_placeholders_are_refused_naming_each_variable(bundle):
    bundle.run("secrets", "production", check=True)
    result = bundle.run("check-env", "production")
    assert result.returncode == 1
    for name in ("APP_PUBLIC_URL", "DJANGO_ALLOWED_HOSTS", "GLITCHTIP_ADMIN_EMAIL", "EMAIL_URL"):
        assert f"{name} still holds" in result.stderr
    assert "env/production.secrets.env" in result.stderr
    assert "env/production.local.env" in result.stderr  # your values: never a committed file


UNSAFE = {
    "debug": (
        "env",
        {"DJANGO_DEBUG": "true"},
        "DJANGO_DEBUG is on",
        "set DJANGO_DEBUG=false in env/production.local.env",
    ),
    "short-secret": (
        "secrets",
        {"DJANGO_SECRET_KEY": "tooshort"},
        "DJANGO_SECRET_KEY is weak",
        "strong random value of 50+ characters",
    ),
    "default-password": ("secrets", {"POSTGRES_PASSWORD": "postgres"}, "POSTGRES_PASSWORD is weak", "Fix:"),
    "traces-1.0": ("env", {"SENTRY_TRACES_SAMPLE_RATE": "1.0"}, "SENTRY_TRACES_SAMPLE_RATE is 1.0", "set it to 0.1"),
    "profiles-1.0": ("env", {"SENTRY_PROFILES_SAMPLE_RATE": "1"}, "SENTRY_PROFILES_SAMPLE_RATE is 1.0", "0.1"),
    "registration": (
        "env",
        {"GLITCHTIP_ENABLE_USER_REGISTRATION": "True"},
        "GLITCHTIP_ENABLE_USER_REGISTRATION is on",
        "set GLITCHTIP_ENABLE_USER_REGISTRATION=false",
    ),
    "dsn-localhost": (
        "secrets",
        {"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@localhost:8001/1"},
        "SENTRY_DSN points at localhost",
        "use the in-network address http://glitchtip-web:8000",
    ),
    "heartbeat-loopback": (
        "secrets",
        {"HEARTBEAT_URLS": """'{"compare_forecasts": "http://127.0.0.1:8001/x/"}'"""},
        "HEARTBEAT_URLS[compare_forecasts] points at 127.0.0.1",
        "Fix:",
    ),
    "heartbeats-not-json": (
        "secrets",
        {"HEARTBEAT_URLS": "http://glitchtip-web:8000/x/"},
        "HEARTBEAT_URLS is not a JSON object of job name to URL",
        "run scripts/bootstrap-glitchtip production",
    ),
    "another-environment": (
        "env",
        {"APP_ENV": "staging"},
        "APP_ENV is 'staging', not 'production'",
        "set APP_ENV=production in env/production.local.env",
    ),
    "dsn-no-such-service": (
        "secrets",
        {"SENTRY_DSN": "http://0123456789abcdef0123456789abcdef@glitchtip:8000/1"},
        "no service of that name runs in this stack",
        "glitchtip-web",
    ),
    "allowed-hosts-star": ("env", {"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS contains *", "Fix:"),
}


@pytest.mark.parametrize("where, values, problem, fix", UNSAFE.values(), ids=UNSAFE.keys())
def test_unsafe_production_is_refused_with_the_variable_and_the_fix(bundle, where, values, problem, fix):
    bundle.prepare("production")
    bundle.set(bundle.local_file("production") if where == "env" else bundle.secrets_file("production"), **values)
    result = bundle.run("check-env", "production")
    assert result.returncode == 1, result.stdout
    assert problem in result.stderr and fix in result.stderr
    for secret in values.values():
        if where == "secrets" and "://" not in secret:
            assert secret not in result.stderr + result.stdout  # secret values are never printed


def test_staging_is_held_to_the_same_rules(bundle):
    bundle.prepare("staging")
    bundle.set(bundle.env_file("staging"), DJANGO_DEBUG="true", SENTRY_TRACES_SAMPLE_RATE="1.0")
    result = bundle.run("check-env", "staging")
    assert result.returncode == 1
    assert "DJANGO_DEBUG is on" in result.stderr and "SENTRY_TRACES_SAMPLE_RATE is 1.0" in result.stderr


def test_development_allows_debug_and_full_sampling(bundle):
    bundle.prepare("development")
    assert bundle.run("check-env", "development").returncode == 0


@pytest.mark.parametrize("service", ["postgres", "redis"])
def test_a_published_database_or_cache_port_is_refused_even_from_an_override(bundle, service):
    bundle.prepare("production")
    (bundle.root / "compose.override.yml").write_text(f'services:\n  {service}:\n    ports:\n      - "5432:5432"\n')
    result = bundle.run("check-env", "production")
    assert result.returncode == 1
    assert f"services.{service}.ports" in result.stderr and "5432" in result.stderr
    assert "remove the ports: entry" in result.stderr


def test_only_nginx_may_publish_in_production(bundle):
    bundle.prepare("production")
    (bundle.root / "compose.override.yml").write_text('services:\n  app:\n    ports:\n      - "8000:8000"\n')
    result = bundle.run("check-env", "production")
    assert result.returncode == 1 and "services.app.ports" in result.stderr and "only nginx" in result.stderr


def test_missing_secrets_file_says_what_to_run(bundle):
    result = bundle.run("check-env", "staging")
    assert result.returncode == 1 and "run scripts/secrets staging" in result.stderr


def test_a_value_of_the_environment_overrides_the_default(bundle):
    bundle.prepare("staging")
    bundle.set(bundle.defaults_file(), SENTRY_TRACES_SAMPLE_RATE="1.0")
    # staging.env sets its own rate (0.5), so the unsafe default does not reach staging ...
    assert bundle.run("check-env", "staging").returncode == 0
    # ... but it does reach production, which keeps the default.
    bundle.prepare("production")
    refused = bundle.run("check-env", "production")
    assert refused.returncode == 1 and "SENTRY_TRACES_SAMPLE_RATE is 1.0" in refused.stderr


def test_show_prints_the_merged_layers_with_secrets_masked(bundle):
    bundle.prepare("production")
    result = bundle.run("check-env", "production", "--show")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:5] == [
        "#   [1] env/defaults.env",
        "#   [2] env/production.env",
        "#   [3] env/production.local.env",
        "#   [4] env/production.secrets.env",
    ]
    shown = {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip() for line in lines if " = " in line}
    assert shown["APP_ENV"] == "production   [2]"
    assert shown["DJANGO_DEBUG"] == "false   [1]"
    assert shown["APP_PUBLIC_URL"] == "https://forecast.example.org   [3]"  # filled in by prepare()
    assert re.fullmatch(r"\*{8} \(\d+ characters\)   \[4\]", shown["DJANGO_SECRET_KEY"])
    for name, value in bundle.values(bundle.secrets_file("production")).items():
        assert not value or value not in result.stdout, f"{name} is printed"
    assert result.stdout.rstrip().endswith("check-env production: OK")


def test_show_still_shows_what_there_is_when_the_secrets_are_missing(bundle):
    result = bundle.run("check-env", "staging", "--show")
    assert result.returncode == 1 and "#   [2] env/staging.env" in result.stdout
    assert "env/staging.secrets.env" not in result.stdout and "run scripts/secrets staging" in result.stderr


def test_the_compose_wrapper_needs_an_environment_and_its_layers(bundle):
    """scripts/compose (its Python; the wrapper adds the .venv): the layers in order, `up` checked first."""

    def compose(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-P", "-m", "scripts.stack.docker_compose", *args],
            cwd=bundle.root,
            env={**bundle.environ(), "PYTHONPATH": str(bundle.root)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert "usage: scripts/compose ENV" in compose("ps").stderr
    missing = compose("production", "config")
    assert missing.returncode == 2
    assert "env/production.local.env" in missing.stderr and "scripts/secrets production" in missing.stderr
    bundle.run("secrets", "production", check=True)
    # Without the release layer only what starts containers is refused: it would run another image.
    no_release = compose("production", "--dry-run", "up", "--detach")
    assert no_release.returncode == 2
    assert "release.env is missing" in no_release.stderr and "scripts/up production" in no_release.stderr
    assert compose("production", "config", "--services").returncode == 0
    # ...unless it names only services that do not run the app's image (a new machine's database).
    database_only = compose("production", "up", "--detach", "--wait", "postgres")
    assert "release.env is missing" not in database_only.stderr
    assert "check-env production: REFUSED" in database_only.stderr  # the wrapper went on to check-env
    assert "release.env is missing" in compose("production", "run", "--rm", "app-migrate", "true").stderr
    assert "release.env is missing" in compose("production", "up", "--detach", "postgres", "app").stderr
    bundle.write_release("production", "abc1234")
    refused = compose("production", "up", "--detach")
    assert refused.returncode == 1 and "check-env production: REFUSED" in refused.stderr  # placeholders
    bundle.prepare("production")
    services = compose("production", "config", "--services")
    assert services.returncode == 0, services.stderr
    assert {"app", "scheduler", "nginx", "glitchtip-web", "glitchtip-worker"} <= set(services.stdout.split())


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG is refused by the app"),
        ("SENTRY_PROFILES_SAMPLE_RATE", "lots", "SENTRY_PROFILES_SAMPLE_RATE is refused by the app"),
        ("LOGIN_LOCKOUT_MINUTES", "0", "LOGIN_LOCKOUT_MINUTES is refused by the app"),
    ],
)
def test_the_app_s_own_settings_check_names_the_variable_and_its_file(bundle, variable, value, message):
    """What the app would refuse at start (its container exiting with status 2) is named here, at step 2."""
    bundle.prepare("development")
    bundle.set(bundle.env_file("development"), **{variable: value})
    result = bundle.run("check-env", "development")
    assert result.returncode == 1
    assert message in result.stderr
    assert "env/development.env" in result.stderr


def test_a_bad_email_url_in_the_secrets_is_named_with_the_secrets_file(bundle):
    bundle.prepare("staging")
    bundle.set(bundle.secrets_file("staging"), EMAIL_URL="smtpx://mailer:pw@smtp.example.org:587")
    result = bundle.run("check-env", "staging")
    assert result.returncode == 1
    assert "EMAIL_URL is refused by the app" in result.stderr and "env/staging.secrets.env" in result.stderr
    assert "mailer:pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ALERT_EMAILS": "ops@example.org;dev@example.org"}, "ALERT_EMAILS holds 'ops@example.org;dev@example.org'"),
        ({"ALERT_THRESHOLD_MINUTES": "99999"}, "ALERT_THRESHOLD_MINUTES is '99999'"),
        ({"ALERT_WEBHOOK_TYPE": "slack"}, "ALERT_WEBHOOK_TYPE is 'slack'"),
    ],
)
def test_alert_settings_are_checked_as_the_bootstrap_reads_them(bundle, values, message):
    bundle.prepare("production")
    bundle.set(bundle.env_file("production"), **values)
    result = bundle.run("check-env", "production")
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_an_alert_address_at_localhost_passes_in_development(bundle):
    bundle.prepare("development")
    bundle.set(bundle.env_file("development"), ALERT_EMAILS="admin@localhost")
    result = bundle.run("check-env", "development")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("layer", "variable", "value", "named"),
    [
        ("secrets", "ALERT_EMAILS", "ops@example.org;dev@example.org", "env/production.secrets.env"),
        ("local", "ALERT_EMAILS", "ops@localhost", "env/production.local.env"),
        # Empty ALERT_EMAILS means the admin: the refusal names the variable that holds the address.
        ("local", "GLITCHTIP_ADMIN_EMAIL", "admin@localhost", "env/production.local.env"),
        # A committed file is never the one to edit: the operator's own layer overrides it.
        ("settings", "ALERT_EMAILS", "ops@localhost", "env/production.local.env, which overrides env/production.env"),
    ],
)
def test_an_alert_setting_is_named_with_the_file_that_sets_it(bundle, layer, variable, value, named):
    bundle.prepare("production")
    path = {
        "secrets": bundle.secrets_file("production"),
        "local": bundle.local_file("production"),
        "settings": bundle.env_file("production"),
    }[layer]
    bundle.set(path, **{variable: value})
    result = bundle.run("check-env", "production")
    assert result.returncode == 1
    line = next(line for line in result.stderr.splitlines() if line.strip().startswith(variable))
    fix = result.stderr.splitlines()[result.stderr.splitlines().index(line) + 1]
    assert f"(in {named})" in fix, result.stderr


def test_an_alert_setting_left_at_its_default_is_fixed_in_the_operator_s_own_layer(bundle):
    bundle.prepare("production")
    bundle.set(bundle.defaults_file(), ALERT_THRESHOLD_EVENTS="0")
    result = bundle.run("check-env", "production")
    assert result.returncode == 1 and "ALERT_THRESHOLD_EVENTS is '0'" in result.stderr
    assert "(in env/production.local.env" in result.stderr
