"""The outage-watcher service in compose.yml, as Compose resolves it for each environment: the app's image
and mail settings, nothing it watches to wait for, a healthcheck, its thresholds from env/defaults.env."""

import pytest
import yaml

from tests.harness.processes import REPO

ENVIRONMENTS = ["development", "staging", "production"]


@pytest.fixture(params=ENVIRONMENTS)
def resolved(request, bundle):
    env = request.param
    config = bundle.prepare(env).config(env)
    return env, config["services"]


def test_it_runs_the_app_image_and_waits_for_nothing_it_watches(resolved):
    env, services = resolved
    watcher = services["outage-watcher"]
    assert watcher["image"] == services["app"]["image"]
    assert watcher["command"] == ["start-outage-watcher"]
    # Postgres, GlitchTip and the migrations may all be down: it starts (and keeps running) anyway.
    assert set(watcher.get("depends_on") or {}) <= {"mailpit"}
    assert watcher["depends_on"]["mailpit"]["required"] is False
    # The file each round writes, read without starting Django.
    status_file = watcher["environment"]["OUTAGE_STATUS_FILE"]
    assert watcher["healthcheck"]["test"] == ["CMD", "python", "-m", "outages.status", status_file]
    assert watcher["restart"] == "unless-stopped"


def test_it_has_the_apps_mail_settings_the_recipients_and_the_thresholds(resolved):
    env, services = resolved
    watcher, app = services["outage-watcher"]["environment"], services["app"]["environment"]
    for name in ("EMAIL_URL", "DEFAULT_FROM_EMAIL", "DATABASE_URL", "SENTRY_DSN"):
        assert watcher[name] == app[name], name
    assert "ALERT_EMAILS" in watcher and watcher["GLITCHTIP_ADMIN_EMAIL"]
    assert int(watcher["OUTAGE_CHECK_INTERVAL_SECONDS"]) < int(watcher["OUTAGE_ALERT_AFTER_SECONDS"]) <= 300
    assert 2 <= int(watcher["OUTAGE_CHECK_TIMEOUT_SECONDS"]) < int(watcher["OUTAGE_CHECK_INTERVAL_SECONDS"])


def test_on_an_engine_before_25_it_checks_itself_every_5_s_instead_of_a_start_interval():
    """scripts/stack/engine.py adds this file on such engines, which refuse a start_interval."""
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!reset", lambda loader, node: None)
    compose = yaml.safe_load((REPO / "compose.yml").read_text())
    before_25 = yaml.load((REPO / "scripts/stack/compose.before-engine-25.yml").read_text(), Loader=loader)
    assert compose["services"]["outage-watcher"]["healthcheck"]["start_interval"] == "1s"
    assert before_25["services"]["outage-watcher"]["healthcheck"] == {"start_interval": None, "interval": "5s"}
