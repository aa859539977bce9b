"""compose.yml (with glitchtip/compose.yml) and the env-file layers, validated by the real Compose v2 CLI
for each environment and checked semantically."""

import re

import pytest
import yaml

from scripts.settings import envfiles
from tests.harness.processes import REPO

ENVIRONMENTS = ["development", "staging", "production"]
ONE_SHOTS = {"app-migrate", "glitchtip-migrate"}
# major.minor.patch; PostgreSQL's own versions have two parts (17.6 is a patch release).
PINNED = re.compile(r"^(?:[\w./-]+:v?\d+\.\d+\.\d+|postgres:\d+\.\d+)$")


@pytest.fixture(params=ENVIRONMENTS)
def resolved(request, bundle):
    env = request.param
    return env, bundle.prepare(env).config(env)


def long_running(config):
    return {name: s for name, s in config["services"].items() if name not in ONE_SHOTS}


def test_every_long_running_service_has_a_healthcheck_a_restart_policy_and_log_rotation(resolved):
    env, config = resolved
    for name, service in long_running(config).items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service["restart"] == "unless-stopped", name
    for name, service in config["services"].items():
        assert service["logging"]["options"]["max-size"] == "10m", name


def test_one_shots_run_once_and_gate_what_needs_them(resolved):
    env, config = resolved
    services = config["services"]
    for name in ONE_SHOTS:
        assert services[name]["restart"] == "no"
    for name, one_shot in {
        "app": "app-migrate",
        "scheduler": "app-migrate",
        "glitchtip-web": "glitchtip-migrate",
        "glitchtip-worker": "glitchtip-migrate",
    }.items():
        assert services[name]["depends_on"][one_shot]["condition"] == "service_completed_successfully", name
    for name in ("app-migrate", "glitchtip-migrate"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # nginx finds its upstreams at each request: a dependency would make Compose stop nginx (both
    # sites) whenever it recreates the app.
    assert not services["nginx"].get("depends_on")


def test_a_new_dsn_touches_app_and_scheduler_but_not_the_migrations(resolved):
    """bootstrap writes SENTRY_DSN and HEARTBEAT_URLS: only the services that read them are recreated
    (the outage watcher checks GlitchTip's event intake at the DSN's address)."""
    env, config = resolved
    readers = {
        name
        for name, service in config["services"].items()
        if {"SENTRY_DSN", "HEARTBEAT_URLS"} & set(service.get("environment") or {})
    }
    assert readers == {"app", "scheduler", "outage-watcher"}


def test_no_image_is_unpinned_or_latest(resolved):
    env, config = resolved
    for name, service in config["services"].items():
        image = service["image"]
        if "build" in service:
            assert image.startswith(
                ("migraine-forecast-app:", "migraine-forecast-backup:", "migraine-forecast-certificates:")
            ), name
            continue
        assert PINNED.match(image), f"{name} uses {image}, not an exact version"
    assert config["services"]["glitchtip-web"]["image"].startswith("glitchtip/glitchtip:6.")


def test_only_nginx_publishes_ports_outside_development(resolved):
    env, config = resolved
    publishing = {name for name, s in config["services"].items() if s.get("ports")}
    if env == "development":
        assert publishing == {"nginx", "mailpit"}
        assert config["services"]["mailpit"]["ports"][0]["host_ip"] == "127.0.0.1"
    else:
        assert publishing == {"nginx"}
        assert "mailpit" not in config["services"]
    ports = {int(p["target"]): int(p["published"]) for p in config["services"]["nginx"]["ports"]}
    assert ports == {80: 80, 443: 443, 8001: 8001}


def test_data_lives_in_named_volumes(resolved):
    env, config = resolved
    mounts = {name: {v["target"]: v for v in s.get("volumes", [])} for name, s in config["services"].items()}
    assert mounts["postgres"]["/var/lib/postgresql/data"]["type"] == "volume"
    assert mounts["redis"]["/data"]["type"] == "volume"
    assert mounts["glitchtip-web"]["/code/uploads"]["type"] == "volume"
    assert config["name"] == f"migraine-forecast-{env}"


def test_separate_databases_roles_and_cache_databases(resolved):
    env, config = resolved
    app = config["services"]["app"]["environment"]
    glitchtip = config["services"]["glitchtip-web"]["environment"]
    assert re.match(r"postgres://app:[^@]{16,}@postgres:5432/app$", app["DATABASE_URL"])
    assert re.match(r"postgres://glitchtip:[^@]{16,}@postgres:5432/glitchtip$", glitchtip["DATABASE_URL"])
    assert app["REDIS_URL"] == "redis://redis:6379/0" and glitchtip["VALKEY_URL"] == "redis://redis:6379/1"
    # Least privilege: the app's containers never receive GlitchTip's secrets.
    assert not any(key.startswith("GLITCHTIP_DB_PASSWORD") or key == "SECRET_KEY" for key in app)
    assert "POSTGRES_PASSWORD" not in app


def test_the_glitchtip_worker_has_a_memory_limit(resolved):
    env, config = resolved
    limit = config["services"]["glitchtip-worker"]["deploy"]["resources"]["limits"]["memory"]
    assert int(limit) >= 512 * 1024 * 1024


def test_docker_waits_for_gunicorn_to_finish_its_requests(resolved):
    """A redeploy retires the old app container with `docker stop`: it must wait longer than gunicorn's
    graceful timeout, or the slow requests in flight are killed at Docker's default 10 s."""
    env, config = resolved
    graceful = int(config["services"]["app"]["environment"].get("GUNICORN_GRACEFUL_TIMEOUT", 30))
    grace = config["services"]["app"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace) and int(grace[:-1]) > graceful


def test_sample_rates_per_environment(resolved):
    env, config = resolved
    app = config["services"]["app"]["environment"]
    traces = float(app["SENTRY_TRACES_SAMPLE_RATE"])
    expected = {"development": 1.0, "production": 0.1}
    if env in expected:
        assert traces == expected[env]
    else:
        assert 0.1 < traces < 1.0
    # GlitchTip discards profiles: no environment spends CPU on them (env files, bench/serving.py).
    assert float(app["SENTRY_PROFILES_SAMPLE_RATE"]) == 0.0
    assert app["SENTRY_ENVIRONMENT"] == env
    assert app["DJANGO_DEBUG"] == ("true" if env == "development" else "false")


SELECTION = {"APP_ENV", "COMPOSE_PROJECT_NAME", "SENTRY_ENVIRONMENT"}


def assignments(path) -> dict[str, str]:
    names = re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text())
    assert len(names) == len(dict(names)), f"{path.name} sets a variable twice"
    return dict(names)


def test_each_environment_holds_only_what_differs_from_the_defaults():
    defaults = assignments(REPO / "env" / "defaults.env")
    for env in ENVIRONMENTS:
        overrides = assignments(REPO / "env" / f"{env}.env")
        assert overrides["APP_ENV"] == env and overrides["SENTRY_ENVIRONMENT"] == env
        assert overrides["COMPOSE_PROJECT_NAME"] == f"migraine-forecast-{env}"
        for name, value in overrides.items():
            if name in SELECTION:
                assert name not in defaults, f"{name} names an environment: set it in each env/<ENV>.env only"
                continue
            assert name in defaults, f"{env}.env sets {name}, which env/defaults.env does not know (a typo?)"
            assert value != defaults[name], f"{env}.env repeats the default of {name}"


def test_every_variable_is_commented():
    for name in ("defaults", *ENVIRONMENTS):
        lines = (REPO / "env" / f"{name}.env").read_text().splitlines()
        for index, line in enumerate(lines):
            if re.match(r"^[A-Z]", line):
                # A comment right above it, or it belongs to a group introduced by one.
                group = next((above for above in reversed(lines[:index]) if not re.match(r"^[A-Z]", above)), "")
                assert group.startswith("#"), f"{name}.env: {line.split('=')[0]} has no comment"


def test_the_app_containers_get_the_settings_layers_in_order():
    """The committed layers and the operator's own (env/ENV.local.env), not the release (a build argument) nor
    the secrets (which reach the app one by one, as environment:, never as a whole file)."""
    compose = yaml.safe_load((REPO / "compose.yml").read_text())
    settings = [
        str(layer.path.relative_to(REPO))
        for layer in envfiles.layers("ENV")
        if not layer.secret and not layer.only_to_start
    ]
    assert settings == ["env/defaults.env", "env/ENV.env", "env/ENV.local.env"]
    for name in ("app", "scheduler", "app-migrate"):
        env_files = [re.sub(r"\$\{APP_ENV[^}]*\}", "ENV", path) for path in compose["services"][name]["env_file"]]
        assert env_files == settings, name


def test_glitchtip_is_included_from_its_own_folder(resolved):
    env, config = resolved
    services = config["services"]
    for name in ("glitchtip-migrate", "glitchtip-web", "glitchtip-worker"):
        assert services[name]["image"].startswith("glitchtip/glitchtip:"), name
        # GlitchTip's fixed settings come from glitchtip/settings.env.
        assert services[name]["environment"]["PORT"] == "8000", name
    worker = services["glitchtip-worker"]
    health_file = worker["environment"]["VTASKS_HEALTH_CHECK_FILE"]
    assert worker["healthcheck"]["test"][-1] == health_file
    templates = {volume["target"]: volume["source"] for volume in services["nginx"]["volumes"]}
    assert templates["/etc/nginx/templates/glitchtip.conf.template"].endswith("/glitchtip/nginx.conf.template")
    assert templates["/etc/nginx/templates/default.conf.template"].endswith("/nginx/templates/default.conf.template")


def test_the_scheduler_is_checked_by_the_liveness_file_it_touches(resolved):
    env, config = resolved
    scheduler = config["services"]["scheduler"]
    assert scheduler["healthcheck"]["test"][-1] == scheduler["environment"]["SCHEDULER_HEARTBEAT_FILE"]


def test_no_secret_in_compose_yml(bundle):
    text = (REPO / "compose.yml").read_text()
    for match in re.finditer(r"(?m)^\s+([A-Z_]*(?:PASSWORD|SECRET|TOKEN|_KEY|_DSN)[A-Z_]*):\s*(.+)$", text):
        assert "${" in match.group(2), f"{match.group(1)} has a literal value in compose.yml"
    bundle.prepare("production")
    for key, value in (
        line.split("=", 1)
        for line in bundle.secrets_file("production").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ):
        assert not value or value not in text, key


def test_a_missing_secrets_file_stops_compose_with_what_to_run(bundle):
    result = bundle.compose("production", "config")
    assert result.returncode != 0 or result.stderr
    assert "secrets" in result.stderr
