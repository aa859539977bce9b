"""scripts/smoke-test against the GlitchTip double, with the app's own sentry_check as the app side."""

import sys

import pytest

from tests.harness.mailpit_fake import MailpitFake
from tests.harness.processes import REPO
from tests.scripts.tracker.helpers import ADMIN_EMAIL, bootstrap

APP_CHECK = f"{sys.executable} {REPO}/app/manage.py sentry_check"


@pytest.fixture
def provisioned(bundle, glitchtip):
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    return bundle


def smoke(bundle, glitchtip, *args, **env):
    # The app reaches this GlitchTip on loopback, so it gets the public DSN (in the stack: the in-network one).
    app_env = {
        "SENTRY_DSN": bundle.secret("development", "SENTRY_PUBLIC_DSN"),
        "SENTRY_ENVIRONMENT": "development",
        "SENTRY_RELEASE": "migraine-forecast@app123",
        **env,
    }
    return bundle.run(
        "smoke-test",
        "development",
        "--url",
        glitchtip.url,
        "--app-command",
        APP_CHECK,
        "--release",
        "migraine-forecast@sdk123",
        *args,
        env=app_env,
    )


def rows(output: str) -> dict[tuple[str, str], str]:
    table = {}
    for line in output.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0] in {"error", "message", "log", "transaction"}:
            table[(parts[0], parts[1])] = parts[3]
    return table


def test_every_kind_arrives_through_the_sdk_and_through_the_app(provisioned, glitchtip):
    result = smoke(provisioned, glitchtip)
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert set(table) == {
        (kind, source) for kind in ("error", "message", "log", "transaction") for source in ("sdk", "app")
    }
    assert all(status.endswith(" s  ok") for status in table.values()), table
    assert "every event arrived" in result.stdout
    # What arrived carries the run id, the user, the custom context and breadcrumbs.
    run_id = result.stdout.split("run id ")[1].split()[0]
    events = [e for e in glitchtip.state.events if e.tags.get("run_id") == run_id]
    assert len(events) == 6  # error, message and log, from each side


def test_a_missing_event_fails_and_the_table_says_which(provisioned, glitchtip):
    glitchtip.drop_events_matching(lambda payload: "smoke-test message" in str(payload.get("message", "")))
    result = smoke(provisioned, glitchtip, "--timeout", "3")
    assert result.returncode == 1
    table = rows(result.stdout)
    assert table[("message", "sdk")].endswith("MISSING")
    assert all(status.endswith("ok") for key, status in table.items() if key != ("message", "sdk"))
    assert "not every event arrived" in result.stderr


def test_an_app_reporting_another_environment_is_caught(provisioned, glitchtip):
    result = smoke(provisioned, glitchtip, SENTRY_ENVIRONMENT="staging")
    assert result.returncode == 1
    assert "'staging'" in result.stderr and "env/development.env" in result.stderr


def test_a_scrubbing_leak_is_a_failure(provisioned, glitchtip, tmp_path):
    # An app without the bundle's scrubbing: a plain sentry-sdk that sends the canaries.
    leaky = tmp_path / "leaky_check.py"
    leaky.write_text(LEAKY_APP)
    result = smoke(provisioned, glitchtip, "--app-command", f"{sys.executable} {leaky}")
    assert result.returncode == 1
    table = rows(result.stdout)
    assert table[("message", "app")].endswith("SCRUBBED VALUE ARRIVED")


LEAKY_APP = """
import json, sys, os
import sentry_sdk
from sentry_sdk.scrubber import EventScrubber
run_id = sys.argv[sys.argv.index("--run-id") + 1]
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], environment=os.environ["SENTRY_ENVIRONMENT"],
                release=os.environ["SENTRY_RELEASE"], event_scrubber=EventScrubber(denylist=["nothing"]))
with sentry_sdk.new_scope() as scope:
    scope.set_tag("run_id", run_id)
    scope.set_extra("password", "pw-canary-" + run_id)
    message = sentry_sdk.capture_message("leaky " + run_id)
sentry_sdk.flush()
print(json.dumps({"run_id": run_id, "environment": os.environ["SENTRY_ENVIRONMENT"],
                  "release": os.environ["SENTRY_RELEASE"], "events": {"message": message}}))
"""


def test_a_dsn_with_a_wrong_key_is_caught_before_anything_is_sent(provisioned, glitchtip):
    good = provisioned.secret("development", "SENTRY_PUBLIC_DSN")
    key = good.split("//")[1].split("@")[0]
    provisioned.set(provisioned.secrets_file("development"), SENTRY_PUBLIC_DSN=good.replace(key, "0" * 32))
    result = smoke(provisioned, glitchtip)
    assert result.returncode == 16
    assert "does not belong to the project" in result.stderr
    assert "scripts/bootstrap-glitchtip development" in result.stderr
    # Nothing was sent, so GlitchTip did not block the project.
    assert not [r for r in glitchtip.requests if r.path.endswith("/envelope/")]


def test_glitchtip_down(provisioned, glitchtip):
    glitchtip.down = True
    result = smoke(provisioned, glitchtip)
    assert result.returncode == 10
    assert "GlitchTip is not answering" in result.stderr and "scripts/compose development up -d" in result.stderr


def test_not_bootstrapped_yet_says_what_to_run(bundle, glitchtip):
    result = smoke(bundle, glitchtip)
    assert result.returncode == 2
    assert "SENTRY_PUBLIC_DSN" in result.stderr and "scripts/bootstrap-glitchtip development" in result.stderr


def test_repeated_runs_add_to_the_same_issues_so_no_new_issue_alert_fires(provisioned, glitchtip):
    assert smoke(provisioned, glitchtip).returncode == 0
    issues = len(glitchtip.state.issues)
    again = smoke(provisioned, glitchtip)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(glitchtip.state.issues) == issues  # one issue per kind, whatever the run id


@pytest.fixture
def mailpit(provisioned, glitchtip):
    """mailpit, with GlitchTip's worker played by `mail_for`: an alert e-mail about each new issue
    whose title names the searched run id (the admin is the team's only member)."""

    def mail_for(text: str) -> dict | None:
        titles = [issue.title for issue in glitchtip.state.issues if text in issue.title]
        return {"subject": f"Error in Forecast App: {titles[0]}", "to": [ADMIN_EMAIL]} if titles else None

    fake = MailpitFake(mail_for).start()
    provisioned.set(provisioned.env_file("development"), MAILPIT_UI_PORT=str(fake.port))
    yield fake
    fake.stop()


def test_alerts_sends_a_new_issue_and_finds_the_alert_e_mail(provisioned, glitchtip, mailpit):
    result = smoke(provisioned, glitchtip, "--alerts")
    assert result.returncode == 0, result.stdout + result.stderr
    alert_id = result.stdout.split("(smoke-test alert ")[1].split(")")[0]
    assert "arrived after" in result.stdout
    assert [issue for issue in glitchtip.state.issues if f"smoke-test alert {alert_id}" in issue.title]
    assert mailpit.requests[-1].param("query") == alert_id


def test_alerts_without_an_e_mail_fails_and_says_where_to_look(provisioned, glitchtip, mailpit):
    mailpit.mail_for = None  # GlitchTip mails nothing
    result = smoke(provisioned, glitchtip, "--alerts", "--alert-timeout", "3")
    assert result.returncode == 23
    assert "no alert e-mail" in result.stderr and ADMIN_EMAIL in result.stderr
    assert "logs glitchtip-worker" in result.stderr
