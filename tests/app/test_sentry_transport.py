"""Delivery to GlitchTip when it is down, hung, refusing or overwhelmed (config/sentry_transport.py):
every lost event counted, one log line when losses start and one when delivery works again."""

import logging
import time

import pytest
import sentry_sdk

from config.sentry_transport import QUEUE_SIZE, READ_TIMEOUT
from tests.harness.app import manage
from tests.harness.blackhole import BlackHoleServer
from tests.harness.http_fake import Response
from tests.harness.processes import free_port
from tests.harness.sentry_receiver import PUBLIC_KEY, SentryReceiver

TRANSPORT_LOGGER = "config.sentry_transport"


def dsn_at(port: int, project: int = 1) -> str:
    return f"http://{PUBLIC_KEY}@127.0.0.1:{port}/{project}"


def delivery():
    return sentry_sdk.get_client().transport.delivery


def log_lines(caplog) -> list[str]:
    """What the app's log shows of delivery problems: the transport's lines and any of urllib3's."""
    return [r.getMessage() for r in caplog.records if r.name == TRANSPORT_LOGGER or r.name.startswith("urllib3")]


def send(count: int, label: str) -> None:
    for number in range(count):
        sentry_sdk.capture_message(f"{label} {number}")


def test_closed_port_one_line_per_outage_every_event_counted_and_one_line_on_recovery(sentry_init, caplog):
    caplog.set_level(logging.INFO)
    port = free_port()
    sentry_init(dsn=dsn_at(port))
    send(50, "while down")
    sentry_sdk.flush(timeout=5)
    assert delivery().dropped == {("error", "delivery failed"): 50}
    [outage] = log_lines(caplog)
    assert f"cannot deliver events to http://127.0.0.1:{port}" in outage and "connection failed" in outage

    receiver = SentryReceiver(port=port).start()  # GlitchTip is back where the closed port was
    try:
        while not receiver.events():  # until the transport tries again (once a second while failing)
            sentry_sdk.capture_message("canary")
            sentry_sdk.flush(timeout=2)
            time.sleep(0.1)
    finally:
        receiver.stop()
    lines = log_lines(caplog)
    assert len(lines) == 2, lines
    assert f"delivering to http://127.0.0.1:{port} again" in lines[1]
    dropped = sum(delivery().dropped.values())
    assert f"{dropped} events were dropped meanwhile" in lines[1] and dropped >= 50


@pytest.mark.parametrize(
    "status, headers, reason",
    [
        (500, {}, "delivery failed"),
        (413, {}, "too large for GlitchTip"),
        (429, {"Retry-After": "60"}, "rate limited by GlitchTip"),
    ],
)
def test_refusals_are_counted_with_their_reason(sentry, caplog, status, headers, reason):
    caplog.set_level(logging.INFO)
    sentry.respond_with(status, headers)
    send(5, "refused")
    sentry_sdk.flush(timeout=5)
    counted = delivery().dropped
    assert sum(counted.values()) == 5 and counted[("error", reason)] >= 1, counted
    [line] = log_lines(caplog)
    assert f"HTTP {status}" in line


def test_refusing_glitchtip_that_recovers_logs_twice(sentry, caplog):
    caplog.set_level(logging.INFO)
    sentry.respond_with(500)
    send(20, "refused")
    sentry_sdk.flush(timeout=5)
    sentry.reset()
    while not sentry.events():
        sentry_sdk.capture_message("after the outage")
        sentry_sdk.flush(timeout=2)
        time.sleep(0.1)
    outage, recovery = log_lines(caplog)
    assert "(HTTP 500)" in outage and "again after" in recovery
    assert delivery().delivered["error"] >= 1


def test_a_burst_beyond_the_queue_is_counted_and_logged_once_when_it_starts_and_once_when_it_drains(sentry, caplog):
    caplog.set_level(logging.INFO)
    sentry.script(Response(200, {}, delay=2))  # a slow answer: the sender is busy while the burst comes
    sent = QUEUE_SIZE + 30
    send(sent, "burst")
    sentry_sdk.flush(timeout=10)
    counted = delivery()
    dropped = counted.dropped[("error", "queue full")]
    assert dropped > 0 and counted.delivered["error"] + dropped == sent
    full, drained = log_lines(caplog)
    assert "is full" in full and f"has drained; {dropped} events were dropped" in drained


@pytest.mark.slow
def test_hung_glitchtip_holds_the_sender_for_the_read_timeout_and_nothing_is_dropped_silently(sentry_init, caplog):
    caplog.set_level(logging.INFO)
    black_hole = BlackHoleServer().start()
    try:
        sentry_init(dsn=black_hole.dsn(PUBLIC_KEY))
        sent = 3 * QUEUE_SIZE  # far more than the queue holds while the first one waits for an answer
        send(sent, "into the void")
        sentry_sdk.flush(timeout=READ_TIMEOUT + 5)
    finally:
        black_hole.stop()
    counted = delivery()
    assert counted.delivered == {}
    assert sum(counted.dropped.values()) == sent, counted.dropped
    assert counted.dropped[("error", "queue full")] > 0 and counted.dropped[("error", "delivery failed")] > 0
    full, outage = log_lines(caplog)
    assert f"queue ({QUEUE_SIZE} envelopes) is full" in full
    assert f"no answer within {READ_TIMEOUT:.0f} s" in outage


def test_sentry_check_fails_naming_what_a_closed_port_did_not_receive(transactional_db, test_database_url):
    port = free_port()
    result = manage("sentry_check", "--json", env={"DATABASE_URL": test_database_url, "SENTRY_DSN": dsn_at(port, 3)})
    assert result.returncode == 1
    assert '"delivered": false' in result.stdout  # the ids are still printed, for the record
    assert f"http://127.0.0.1:{port}" in result.stderr and "3 of 3 error events" in result.stderr, result.stderr
    assert "connection failed" in result.stderr


@pytest.mark.parametrize(
    "status, headers, says",
    [
        (500, {}, "last failure: HTTP 500"),
        (429, {"Retry-After": "60"}, "rate limited by GlitchTip"),
        (413, {}, "too large for GlitchTip"),
    ],
)
def test_sentry_check_fails_when_glitchtip_refuses(
    services, transactional_db, test_database_url, status, headers, says
):
    services.sentry.respond_with(status, headers)
    result = manage("sentry_check", env={"DATABASE_URL": test_database_url, "SENTRY_DSN": services.sentry.dsn(3)})
    assert result.returncode == 1
    assert "Not delivered to" in result.stderr and says in result.stderr, result.stderr
    assert services.sentry.items() == []
