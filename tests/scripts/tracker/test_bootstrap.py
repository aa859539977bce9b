"""scripts/bootstrap-glitchtip against the GlitchTip double: idempotent, atomic, clear failures."""

import json
import re
import uuid

from scripts.settings import scheduled_jobs
from tests.scripts.tracker.helpers import ADMIN_EMAIL, bootstrap


def counts(glitchtip):
    state = glitchtip.state
    return {
        "organizations": len(state.organizations),
        "teams": len(state.teams),
        "projects": len(state.projects),
        "tokens": len(state.tokens),
        "monitors": len(state.monitors),
        "releases": len(state.releases),
        "alerts": len(state.alerts),
    }


def test_first_run_provisions_everything_and_injects_the_dsn(bundle, glitchtip):
    result = bootstrap(bundle, glitchtip, "--release", "migraine-forecast@abc1234")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(org.name, org.slug) for org in glitchtip.state.organizations] == [
        ("Migraine Forecast", "migraine-forecast")
    ]
    assert counts(glitchtip) == {
        "organizations": 1,
        "teams": 1,
        "projects": 1,
        "tokens": 1,
        "monitors": 5,
        "releases": 1,
        "alerts": 3,
    }
    values = bundle.values(bundle.secrets_file("development"))
    project = glitchtip.state.projects[0]
    key = project.public_key.hex
    # The DSN as GlitchTip prints it, and the same key and project on the in-network host.
    assert values["SENTRY_PUBLIC_DSN"] == f"{glitchtip.url.replace('http://', f'http://{key}@')}/{project.id}"
    assert values["SENTRY_DSN"] == f"http://{key}@glitchtip-web:8000/{project.id}"
    heartbeats = json.loads(values["HEARTBEAT_URLS"].strip("'"))
    assert list(heartbeats) == list(scheduled_jobs.jobs())  # one per job of app/config/jobs.toml, in its order
    for url in heartbeats.values():
        assert re.fullmatch(
            r"http://glitchtip-web:8000/api/0/organizations/migraine-forecast/heartbeat_check/"
            r"[0-9a-f-]{36}/",
            url,
        )
    monitors = {m.name: m for m in glitchtip.state.monitors}
    assert monitors["job collect_weather_data"].interval == 3960  # hourly, plus 10 % grace
    assert monitors["job compare_forecasts"].interval == 23760  # every six hours
    assert monitors["app /healthz"].url == "http://app.internal/healthz"
    # Neither the admin password nor the new token is printed.
    output = result.stdout + result.stderr
    assert bundle.secret("development", "GLITCHTIP_ADMIN_PASSWORD") not in output
    assert values["GLITCHTIP_API_TOKEN"] not in output


def test_second_run_changes_nothing_and_says_so(bundle, glitchtip):
    assert bootstrap(bundle, glitchtip).returncode == 0
    before = counts(glitchtip), bundle.secrets_file("development").read_bytes()
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0
    assert "Nothing changed" in result.stdout
    assert "API token ... reused" in result.stdout
    assert (counts(glitchtip), bundle.secrets_file("development").read_bytes()) == before


def test_partially_provisioned_server_gets_only_what_is_missing(bundle, glitchtip):
    admin = glitchtip.state.users[0]
    token = glitchtip.create_token(admin)
    import requests

    requests.post(
        f"{glitchtip.url}/api/0/organizations/",
        json={"name": "Migraine Forecast"},
        timeout=5,
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert ([team.slug for team in glitchtip.state.teams], [p.name for p in glitchtip.state.projects]) == (
        ["forecast"],
        ["Forecast App"],
    )
    # No "migraine-forecast-xy" twin: the existing organization was found, not created again.
    assert [o.slug for o in glitchtip.state.organizations] == ["migraine-forecast"]


def test_secrets_file_keeps_comments_and_unrelated_keys_byte_for_byte(bundle, glitchtip):
    path = bundle.secrets_file("development")
    original = path.read_text() + "# my own notes\nMY_FEATURE_FLAG='with spaces'\n# trailing\n"
    path.write_text(original)
    assert bootstrap(bundle, glitchtip).returncode == 0
    text = path.read_text()
    written = re.compile(r"(GLITCHTIP_API_TOKEN|SENTRY_|HEARTBEAT_URLS)")
    kept = [line for line in original.splitlines() if not written.match(line)]
    assert [line for line in text.splitlines() if line in kept] == kept  # same lines, same order
    assert "# my own notes\nMY_FEATURE_FLAG='with spaces'\n" in text
    # Replaced in place (same line number), not appended a second time.
    assert text.count("\nSENTRY_DSN=") == 1

    def line_of(content: str) -> int:
        return next(number for number, line in enumerate(content.splitlines()) if line.startswith("SENTRY_DSN="))

    assert line_of(text) == line_of(original)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_wrong_admin_password_fails_with_the_fix_and_no_secret(bundle, glitchtip):
    bundle.set(bundle.secrets_file("development"), GLITCHTIP_ADMIN_PASSWORD="not-the-right-one-1234")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 12
    assert ADMIN_EMAIL in result.stderr
    assert "GLITCHTIP_ADMIN_PASSWORD" in result.stderr and "env/development.secrets.env" in result.stderr
    assert "not-the-right-one-1234" not in result.stdout + result.stderr
    assert counts(glitchtip)["organizations"] == 0


def test_glitchtip_down_fails_at_the_first_step(bundle, glitchtip):
    glitchtip.down = True
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 10
    assert "reach GlitchTip" in result.stdout and "FAILED" in result.stdout
    assert "scripts/compose development up -d" in result.stderr
    assert counts(glitchtip)["tokens"] == 0


def test_dry_run_prints_what_would_change_and_changes_nothing(bundle, glitchtip):
    before = bundle.secrets_file("development").read_bytes()
    result = bootstrap(bundle, glitchtip, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would create organization" in result.stdout and "would set SENTRY_DSN" in result.stdout
    assert "Dry run:" in result.stdout
    assert counts(glitchtip) == {
        "organizations": 0,
        "teams": 0,
        "projects": 0,
        "tokens": 0,
        "monitors": 0,
        "releases": 0,
        "alerts": 0,
    }
    assert bundle.secrets_file("development").read_bytes() == before


def test_concurrent_runs_provision_once(bundle, glitchtip):
    runs = [
        bundle.start("bootstrap-glitchtip", "development", "--url", glitchtip.url, "--no-create-admin")
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert counts(glitchtip) == {
        "organizations": 1,
        "teams": 1,
        "projects": 1,
        "tokens": 1,
        "monitors": 5,
        "releases": 0,
        "alerts": 3,
    }
    assert sum("Nothing changed" in out for out, _ in outputs) == 1


def test_registration_is_closed_in_production(tmp_path, glitchtip):
    from tests.harness.bundle import Bundle

    bundle = Bundle(tmp_path / "prod").prepare("production")
    glitchtip.create_user("ops@example.org", bundle.secret("production", "GLITCHTIP_ADMIN_PASSWORD"), superuser=True)
    glitchtip.user_registration_open = True
    result = bootstrap(bundle, glitchtip, env="production")
    assert result.returncode == 0, result.stderr
    assert "restart glitchtip-web" in result.stdout
    assert bundle.secret("production", "GLITCHTIP_ENABLE_USER_REGISTRATION") == "false"


def test_a_stale_token_is_replaced(bundle, glitchtip):
    stale = uuid.uuid4().hex + "abcdefgh"
    bundle.set(bundle.secrets_file("development"), GLITCHTIP_API_TOKEN=stale)
    result = bootstrap(bundle, glitchtip)
    # Checked with the token alone: the login session must not make a dead token look valid.
    assert result.returncode == 0, result.stderr
    assert [token.label for token in glitchtip.state.tokens] == ["migraine-forecast-bootstrap"]
    assert bundle.secret("development", "GLITCHTIP_API_TOKEN") not in {stale, ""}


def test_a_job_added_to_the_list_gets_its_monitor_and_heartbeat_url(bundle, glitchtip):
    assert bootstrap(bundle, glitchtip).returncode == 0
    with open(bundle.root / "app" / "config" / "jobs.toml", "a") as jobs:
        jobs.write('prune_reports = "45 4 * * *"\n')
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert "created job prune_reports" in result.stdout
    monitors = {m.name: m for m in glitchtip.state.monitors}
    assert monitors["job prune_reports"].interval == 86400  # daily, within GlitchTip's maximum
    heartbeats = json.loads(bundle.secret("development", "HEARTBEAT_URLS").strip("'"))
    assert list(heartbeats)[-1] == "prune_reports" and len(heartbeats) == 5


def test_a_bad_schedule_override_names_the_variable(bundle, glitchtip):
    bundle.set(bundle.env_file("development"), SCHEDULE_COMPARE_FORECASTS="every six hours")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 2
    assert "not a cron expression" in result.stderr
    assert "SCHEDULE_COMPARE_FORECASTS" in result.stderr and "env/development.env" in result.stderr


def test_a_changed_schedule_updates_the_heartbeat_monitor_in_place(bundle, glitchtip):
    assert bootstrap(bundle, glitchtip).returncode == 0
    before = {m.name: m for m in glitchtip.state.monitors}["job compare_forecasts"]
    endpoint, urls = before.endpoint_id, bundle.secret("development", "HEARTBEAT_URLS")
    bundle.set(bundle.env_file("development"), SCHEDULE_COMPARE_FORECASTS="0 */3 * * *")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert "updated job compare_forecasts" in result.stdout
    after = {m.name: m for m in glitchtip.state.monitors}["job compare_forecasts"]
    # The same monitor, still in the project (a PUT without it would detach it), pinged at the same URL.
    assert (after.id, after.endpoint_id, after.interval) == (before.id, endpoint, 11880)
    assert after.project is glitchtip.state.projects[0]
    assert bundle.secret("development", "HEARTBEAT_URLS") == urls
    assert "Nothing changed" in bootstrap(bundle, glitchtip).stdout


def test_a_monitor_detached_from_the_project_is_attached_again(bundle, glitchtip):
    assert bootstrap(bundle, glitchtip).returncode == 0
    uptime = {m.name: m for m in glitchtip.state.monitors}["app /healthz"]
    uptime.project = None  # as a PUT without `project` leaves it: no uptime alerts any more
    result = bootstrap(bundle, glitchtip)
    assert "updated app /healthz" in result.stdout
    assert uptime.project is glitchtip.state.projects[0] and uptime.url == "http://app.internal/healthz"


def test_the_release_scripts_up_built_is_recorded_without_being_named(bundle, glitchtip):
    bundle.write_release("development", "abc1234")  # env/development.release.env, step 3 of scripts/up
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert [release.version for release in glitchtip.state.releases] == ["migraine-forecast@abc1234"]
