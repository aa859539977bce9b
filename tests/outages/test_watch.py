"""The outage watcher's memory (outages/watch.py) and its e-mails' text (outages/notices.py), round by round,
on given times: one e-mail per outage, one when it is over, none for a short failure."""

from datetime import UTC, datetime, timedelta

import pytest

from outages import notices
from outages.checks import Check
from outages.watch import Kind, Watch

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
AFTER = timedelta(seconds=120)
CHECKS = [
    Check("the database", "postgres:5432/app", "The app cannot serve its pages.", lambda: None),
    Check("GlitchTip", "http://glitchtip-web:8000/api/1/envelope/", "GlitchTip cannot store errors.", lambda: None),
]


def rounds(watch: Watch, results: list[dict[str, str | None]], start: datetime = T0, every: int = 15):
    """Play rounds `every` s apart; `results` maps a check to its failure reason (absent or None: passed).
    Each due notice counts as sent; returns them with the time of their round."""
    sent = []
    for number, result in enumerate(results):
        now = start + timedelta(seconds=every * number)
        for name in watch.targets:
            watch.record(name, result.get(name), now)
        if notice := watch.due(now):
            watch.sent(notice)
            sent.append(notice)
    return sent


DB_DOWN = {"the database": "connection refused"}
BOTH_DOWN = {"the database": "connection refused", "GlitchTip": "answered HTTP 500 Internal Server Error"}
UP: dict[str, str | None] = {}


def test_an_outage_is_mailed_once_after_the_threshold_and_once_when_it_is_over():
    watch = Watch(["the database", "GlitchTip"], AFTER)
    sent = rounds(watch, [UP] + [BOTH_DOWN] * 12 + [UP] * 4)
    assert [n.kind for n in sent] == [Kind.DOWN, Kind.RESOLVED]
    down, resolved = sent
    # First failed round at 15 s; 120 s later (135 s) the e-mail, naming both.
    assert down.at == T0 + timedelta(seconds=135)
    assert down.new == ("the database", "GlitchTip")
    assert resolved.at == T0 + timedelta(seconds=195)


def test_a_failure_shorter_than_the_threshold_mails_nobody():
    watch = Watch(["the database", "GlitchTip"], AFTER)
    assert rounds(watch, [UP] + [DB_DOWN] * 8 + [UP] + [DB_DOWN] * 8 + [UP] * 3) == []


def test_resolved_waits_for_everything_that_was_mailed_and_a_check_that_fails_later_is_mailed_on_its_own():
    watch = Watch(["the database", "GlitchTip"], AFTER)
    glitchtip_down = {"GlitchTip": "answered HTTP 502 Bad Gateway"}
    sent = rounds(watch, [DB_DOWN] * 10 + [BOTH_DOWN] * 10 + [glitchtip_down] * 3 + [UP] * 2)
    assert [(n.kind, n.new) for n in sent] == [
        (Kind.DOWN, ("the database",)),
        (Kind.DOWN, ("GlitchTip",)),
        (Kind.RESOLVED, ()),
    ]
    # The database came back three rounds before GlitchTip: one e-mail when both are.
    resolved = sent[-1]
    back = {t.name: t.back_at for t in resolved.targets}
    assert back["the database"] == T0 + timedelta(seconds=15 * 20)
    assert back["GlitchTip"] == T0 + timedelta(seconds=15 * 23)


def test_a_check_that_comes_back_and_fails_again_while_the_outage_lasts_is_not_mailed_again():
    watch = Watch(["the database", "GlitchTip"], AFTER)
    glitchtip_down = {"GlitchTip": "answered HTTP 502 Bad Gateway"}
    sent = rounds(watch, [BOTH_DOWN] * 10 + [glitchtip_down] * 2 + [BOTH_DOWN] * 10 + [UP])
    assert [n.kind for n in sent] == [Kind.DOWN, Kind.RESOLVED]


def test_an_e_mail_that_could_not_be_sent_stays_due():
    watch = Watch(["the database"], AFTER)
    for second in range(0, 150, 15):
        watch.record("the database", "connection refused", T0 + timedelta(seconds=second))
    first = watch.due(T0 + timedelta(seconds=135))
    assert first is not None and first.kind is Kind.DOWN
    # Not sent (the mail server refused): the next round finds it due again, and only once sent is it not.
    later = T0 + timedelta(seconds=150)
    watch.record("the database", "connection refused", later)
    again = watch.due(later)
    assert again is not None and again.kind is Kind.DOWN
    watch.sent(again)
    assert watch.due(later + timedelta(seconds=15)) is None


def test_the_e_mails_say_what_failed_since_when_and_what_to_do(settings):
    settings.APP_ENV = "production"
    settings.APP_PUBLIC_URL = "https://forecast.example.com"
    watch = Watch(["the database", "GlitchTip"], AFTER)
    down, resolved = rounds(watch, [UP] + [BOTH_DOWN] * 12 + [UP])
    letter = notices.compose(down, CHECKS, 15, 120)
    assert letter.subject == "[production] Outage: the database and GlitchTip unreachable since 10:00 UTC"
    assert "Migraine Forecast (production, https://forecast.example.com) cannot reach" in letter.body
    assert "the database (postgres:5432/app)" in letter.body
    assert "failing since 2026-12-07 10:00:15 UTC (2 min): connection refused" in letter.body
    assert "answered HTTP 500" in letter.body and "GlitchTip cannot store errors." in letter.body
    assert "scripts/compose production ps" in letter.body
    letter = notices.compose(resolved, CHECKS, 15, 120)
    assert letter.subject == "[production] Resolved: the database and GlitchTip reachable again (down 3 min)"
    assert "failed from 2026-12-07 10:00:15 UTC to 2026-12-07 10:03:15 UTC (3 min)" in letter.body
    assert "may be missing from GlitchTip" in letter.body


@pytest.mark.parametrize(
    "alert_emails, admin, expected",
    [
        (
            "ops@example.com, dev@example.com,ops@example.com",
            "admin@example.com",
            ["ops@example.com", "dev@example.com"],
        ),
        ("", "admin@localhost", ["admin@localhost"]),
    ],
)
def test_recipients_are_alert_emails_or_else_the_glitchtip_admin(settings, alert_emails, admin, expected):
    settings.ALERT_EMAILS, settings.GLITCHTIP_ADMIN_EMAIL = alert_emails, admin
    assert notices.recipients() == expected


@pytest.mark.parametrize(
    "alert_emails, admin, named",
    [
        ("ops@example.com, not-an-address", "", "ALERT_EMAILS holds 'not-an-address'"),
        ("", "!!!SET the GlitchTip admin's e-mail address!!!", "GLITCHTIP_ADMIN_EMAIL holds"),
        ("", "", "nobody to mail: set ALERT_EMAILS"),
    ],
)
def test_no_usable_recipient_is_refused_naming_the_variable(settings, alert_emails, admin, named):
    settings.ALERT_EMAILS, settings.GLITCHTIP_ADMIN_EMAIL = alert_emails, admin
    with pytest.raises(ValueError, match=named):
        notices.recipients()


def test_a_refused_e_mail_is_a_notice_error(smtp):
    smtp.refuse("451 4.3.0 try later")
    with pytest.raises(notices.NoticeError, match="451"):
        notices.send(notices.Letter("subject", "body"), ["ops@example.com"])
    smtp.reset()
    notices.send(notices.Letter("subject", "body"), ["ops@example.com"])
    assert [m["Subject"] for m in smtp.messages] == ["subject"]
