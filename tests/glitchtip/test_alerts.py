"""glitchtip/alerts.py: the ALERT_* settings and the alerts they make, without a server."""

import pytest

from glitchtip.alerts import AlertSettings, AlertSettingsError, AlertSpec, normal_url, wanted_alerts
from glitchtip.client import Alert, Recipient

ADMIN = {"GLITCHTIP_ADMIN_EMAIL": "Admin@Example.com"}


def test_no_alert_emails_means_the_glitchtip_admin():
    settings = AlertSettings.from_values(ADMIN)
    assert settings.emails == ("admin@example.com",)
    assert (settings.threshold_events, settings.threshold_minutes, settings.webhook_url) == (10, 60, "")
    assert settings.recipients() == {Recipient("email")}


def test_addresses_are_trimmed_lowered_and_deduplicated():
    listed = " ops@example.com,Dev@Example.com , ops@example.com"
    settings = AlertSettings.from_values({**ADMIN, "ALERT_EMAILS": listed})
    assert settings.emails == ("ops@example.com", "dev@example.com")


@pytest.mark.parametrize(
    ("values", "variable", "problem"),
    [
        ({"ALERT_EMAILS": "ops@example.com; dev@example.com"}, "ALERT_EMAILS", "is not an e-mail address"),
        ({"ALERT_THRESHOLD_EVENTS": "0"}, "ALERT_THRESHOLD_EVENTS", "is '0'"),
        ({"ALERT_THRESHOLD_MINUTES": "40000"}, "ALERT_THRESHOLD_MINUTES", "is '40000'"),  # a smallint in GlitchTip
        ({"ALERT_WEBHOOK_URL": "hooks.slack.com/services/x"}, "ALERT_WEBHOOK_URL", "is not an http(s) URL"),
        ({"ALERT_WEBHOOK_TYPE": "slack"}, "ALERT_WEBHOOK_TYPE", "is 'slack'"),
    ],
)
def test_a_bad_value_names_its_variable(values, variable, problem):
    with pytest.raises(AlertSettingsError) as caught:
        AlertSettings.from_values({**ADMIN, **values})
    assert caught.value.variable == variable and problem in str(caught.value) and caught.value.fix


def test_a_webhook_is_a_second_recipient_of_every_alert():
    settings = AlertSettings.from_values(
        {**ADMIN, "ALERT_WEBHOOK_URL": "https://chat.example.com", "ALERT_WEBHOOK_TYPE": "googlechat"}
    )
    for spec in wanted_alerts(settings):
        assert spec.recipients == {Recipient("email"), Recipient("googlechat", "https://chat.example.com/")}
        assert spec.body()["alertRecipients"] == [
            {"recipientType": "email", "url": ""},
            {"recipientType": "googlechat", "url": "https://chat.example.com/"},
        ]


def test_urls_compare_as_glitchtip_stores_them():
    assert normal_url("https://hooks.example.com") == "https://hooks.example.com/"
    assert normal_url("https://hooks.example.com/services/T0/B0/x") == "https://hooks.example.com/services/T0/B0/x"


def test_differences_say_what_an_update_changes():
    spec = AlertSpec("frequent issue", 5, 30, False, frozenset({Recipient("email")}))
    same = Alert(7, "frequent issue", 30, 5, False, frozenset({Recipient("email")}))
    assert spec.differences(same) == []
    stale = Alert(7, "frequent issue", 60, 10, False, frozenset())
    assert spec.differences(stale) == ["10 event(s) in 60 min -> 5 event(s) in 30 min", "recipients email"]


def test_an_address_at_localhost_is_accepted_in_development():
    """mailpit catches every address in development, and the stack's own addresses there are @localhost."""
    settings = AlertSettings.from_values({**ADMIN, "APP_ENV": "development", "ALERT_EMAILS": "Admin@localhost"})
    assert settings.emails == ("admin@localhost",)
    assert settings.local_only() == ("admin@localhost",)


@pytest.mark.parametrize("address", ["admin@localhost", "ops@mail.local", "ops@example.test", "ops@[127.0.0.1]"])
def test_an_address_no_outside_mail_server_delivers_to_is_refused_in_staging_and_production(address):
    with pytest.raises(AlertSettingsError) as caught:
        AlertSettings.from_values({**ADMIN, "APP_ENV": "production", "ALERT_EMAILS": f"ops@example.com,{address}"})
    assert caught.value.variable == "ALERT_EMAILS"
    assert "no mail server outside this machine delivers to it" in str(caught.value)


def test_the_admins_address_stands_in_for_an_empty_list_and_is_named_as_such():
    with pytest.raises(AlertSettingsError) as caught:
        AlertSettings.from_values({"APP_ENV": "production", "GLITCHTIP_ADMIN_EMAIL": "admin@localhost"})
    assert caught.value.variable == "GLITCHTIP_ADMIN_EMAIL"  # ALERT_EMAILS is empty: the admin's address is used
