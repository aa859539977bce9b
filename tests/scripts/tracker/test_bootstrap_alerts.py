"""scripts/bootstrap-glitchtip's alerts against the GlitchTip double: the three project alerts, the
people GlitchTip mails (team members, not addresses), and updates when a setting changes."""

from scripts.tracker.bootstrap import TOKEN_SCOPES
from tests.scripts.tracker.helpers import ADMIN_EMAIL, bootstrap

OPS = "ops@example.com"


def alerts(glitchtip) -> dict:
    return {alert.name: alert for alert in glitchtip.state.alerts}


def recipients(alert) -> set[tuple[str, str]]:
    return {(r.recipient_type, r.url) for r in alert.recipients}


def mailed(glitchtip) -> list[str]:
    """Whom GlitchTip would e-mail an alert of the project."""
    return sorted(user.email for user in glitchtip.state.alert_recipients(glitchtip.state.projects[0]))


def test_first_run_mails_the_admin_on_a_new_issue_a_frequent_issue_and_a_monitor_change(bundle, glitchtip):
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stdout + result.stderr
    found = alerts(glitchtip)
    assert {name: (a.quantity, a.timespan_minutes, a.uptime) for name, a in found.items()} == {
        "new issue": (1, 10, False),
        "frequent issue": (10, 60, False),
        "monitor down or back up": (None, None, True),
    }
    assert all(recipients(alert) == {("email", "")} for alert in found.values())
    assert mailed(glitchtip) == [ADMIN_EMAIL]  # the team's creator, and nobody else


def test_a_changed_setting_updates_the_alerts_in_place_and_a_rerun_changes_nothing(bundle, glitchtip):
    assert bootstrap(bundle, glitchtip).returncode == 0
    before = {
        name: (alert.id, {r.recipient_type: r.id for r in alert.recipients})
        for name, alert in alerts(glitchtip).items()
    }
    bundle.set(bundle.env_file("development"), ALERT_THRESHOLD_EVENTS="5", ALERT_THRESHOLD_MINUTES="30")
    bundle.set(
        bundle.secrets_file("development"), ALERT_WEBHOOK_URL="https://chat.example.com", ALERT_WEBHOOK_TYPE="discord"
    )
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert "updated alert 'frequent issue'" in result.stdout
    found = alerts(glitchtip)
    assert len(glitchtip.state.alerts) == 3 and (
        found["frequent issue"].quantity,
        found["frequent issue"].timespan_minutes,
    ) == (5, 30)
    for name, alert in found.items():
        # The same alert, its e-mail recipient kept (a PUT carries every recipient), the webhook added.
        assert alert.id == before[name][0]
        assert recipients(alert) == {("email", ""), ("discord", "https://chat.example.com/")}
        assert {r.recipient_type: r.id for r in alert.recipients}["email"] == before[name][1]["email"]
    again = bootstrap(bundle, glitchtip)
    assert "Nothing changed" in again.stdout


def test_alert_emails_invites_each_address_and_mail_reaches_them_once_they_accept(bundle, glitchtip):
    ops = glitchtip.create_user(OPS, "their-own-passw0rd")
    bundle.set(bundle.env_file("development"), ALERT_EMAILS=f"{OPS}, {ADMIN_EMAIL}")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert f"Note: {OPS} gets no alert e-mail" in result.stdout
    assert [m.email for m in glitchtip.state.invitations_sent] == [OPS]
    assert mailed(glitchtip) == [ADMIN_EMAIL]  # pending members get nothing
    glitchtip.accept_invitation(glitchtip.state.invitations_sent[0], ops)
    assert mailed(glitchtip) == [ADMIN_EMAIL, OPS]
    again = bootstrap(bundle, glitchtip)
    assert "Note:" not in again.stdout and "Nothing changed" in again.stdout
    assert len(glitchtip.state.invitations_sent) == 1  # nobody is invited twice


def test_an_admin_left_out_of_alert_emails_stops_getting_them_and_gets_them_back(bundle, glitchtip):
    glitchtip.create_user(OPS, "their-own-passw0rd")
    bundle.set(bundle.env_file("development"), ALERT_EMAILS=OPS)
    result = bootstrap(bundle, glitchtip)
    assert "turned alert e-mail" in result.stdout
    assert mailed(glitchtip) == []  # ops has not accepted yet; the admin asked to be left out
    bundle.set(bundle.env_file("development"), ALERT_EMAILS="")
    result = bootstrap(bundle, glitchtip)
    assert "turned alert e-mail" in result.stdout
    assert mailed(glitchtip) == [ADMIN_EMAIL]


def test_someone_else_in_the_team_is_named_as_also_mailed(bundle, glitchtip):
    ops = glitchtip.create_user(OPS, "their-own-passw0rd")
    bundle.set(bundle.env_file("development"), ALERT_EMAILS=OPS)
    assert bootstrap(bundle, glitchtip).returncode == 0
    glitchtip.accept_invitation(glitchtip.state.invitations_sent[0], ops)
    bundle.set(bundle.env_file("development"), ALERT_EMAILS=ADMIN_EMAIL)
    result = bootstrap(bundle, glitchtip)
    assert f"also mailed: {OPS}" in result.stdout
    assert mailed(glitchtip) == [ADMIN_EMAIL, OPS]


def test_an_address_at_localhost_is_accepted_in_development_and_said_to_get_no_glitchtip_mail(bundle, glitchtip):
    bundle.set(bundle.env_file("development"), ALERT_EMAILS=f"admin@localhost,{ADMIN_EMAIL}")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert "does not invite admin@localhost" in result.stdout
    assert glitchtip.state.invitations_sent == [] and mailed(glitchtip) == [ADMIN_EMAIL]


def test_a_bad_alert_address_names_the_file_it_is_set_in(bundle, glitchtip):
    bundle.set(bundle.secrets_file("development"), ALERT_EMAILS="ops@example.com; dev@example.com")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 2
    assert "ALERT_EMAILS" in result.stderr and "ops@example.com; dev@example.com" in result.stderr
    assert "(in env/development.secrets.env)" in result.stderr and "(in env/development.env)" not in result.stderr


def test_an_unknown_address_while_registration_is_closed_names_the_fix(bundle, glitchtip):
    bundle.set(bundle.env_file("development"), ALERT_EMAILS="nobody@example.com")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 21
    assert "nobody@example.com" in result.stderr and "registration is closed" in result.stderr
    assert glitchtip.state.invitations_sent == []
    assert "run without --no-create-admin" in result.stderr


def test_an_unknown_address_is_invited_while_registration_is_open(bundle, glitchtip):
    glitchtip.user_registration_open = True
    bundle.set(bundle.env_file("development"), ALERT_EMAILS="new-person@example.com")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert [m.email for m in glitchtip.state.invitations_sent] == ["new-person@example.com"]


def test_a_bad_alert_setting_is_named_before_anything_is_touched(bundle, glitchtip):
    bundle.set(bundle.env_file("development"), ALERT_THRESHOLD_EVENTS="lots")
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 2
    assert "ALERT_THRESHOLD_EVENTS is 'lots'" in result.stderr and "whole number from 1 to 32767" in result.stderr
    assert glitchtip.state.organizations == []


def test_a_token_from_an_older_bootstrap_is_replaced_by_one_that_may_invite(bundle, glitchtip):
    admin = glitchtip.state.users[0]
    old_scopes = [scope for scope in TOKEN_SCOPES if not scope.startswith("member:")]
    old = glitchtip.create_token(admin, old_scopes, label="migraine-forecast-bootstrap")
    bundle.set(bundle.secrets_file("development"), GLITCHTIP_API_TOKEN=old)
    result = bootstrap(bundle, glitchtip)
    assert result.returncode == 0, result.stderr
    assert "member:read, member:write" in result.stdout  # what the old token lacked
    new = bundle.secret("development", "GLITCHTIP_API_TOKEN")
    assert [token.token for token in glitchtip.state.tokens] == [new]  # the old one is deleted


def test_dry_run_names_the_alerts_and_changes_nothing(bundle, glitchtip):
    result = bootstrap(bundle, glitchtip, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would turn alert e-mail for {ADMIN_EMAIL}" in result.stdout and "would create 3 alerts" in result.stdout
    assert glitchtip.state.alerts == []
