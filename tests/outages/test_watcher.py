"""The outage watcher as the outage-watcher service runs it (`manage.py watch_outages`, its own process), against
a real Postgres that is stopped and started again, a real SMTP server, and the GlitchTip double's event intake.

Small thresholds (a round a second, e-mail after 3 s); what is awaited is rounds and e-mails, each within a
generous bound, never a duration."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glitchtip.client import GlitchTipClient
from tests.harness.app import manage
from tests.harness.postgres import PostgresServer
from tests.harness.processes import REPO, stop

ALERT_AFTER = 3
BOUND = 90  # seconds: a loaded CI machine, never a measurement
APP_DB_PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A Postgres of its own (the session's serves the other tests): this one is stopped."""
    server = PostgresServer().start()
    server.initialise_bundle(APP_DB_PASSWORD, secrets.token_urlsafe(12))
    yield server
    server.stop()


@pytest.fixture
def glitchtip_dsn(glitchtip) -> str:
    """A project's DSN in the double, made through its API as the bootstrap makes it."""
    client = GlitchTipClient(
        glitchtip.url,
        glitchtip.create_token(glitchtip.create_user("ops@example.com", secrets.token_urlsafe(12), superuser=True)),
    )
    org = client.create_organization("Acme").slug
    client.create_team(org, "ops")
    project = client.create_project(org, "ops", "Web")
    return client.project_keys(org, project.slug)[0].public_dsn


class Watcher:
    def __init__(self, process: subprocess.Popen, status_file: Path, log: Path, env: dict[str, str]):
        self.process = process
        self.status_file = status_file
        self.log = log
        self.env = env

    def status(self) -> dict:
        try:
            return json.loads(self.status_file.read_text())
        except FileNotFoundError:
            return {"rounds": 0, "failing": [], "mail_error": None}

    def wait_for(self, what: str, condition, bound: float = BOUND):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the watcher exited ({self.process.returncode}):\n{self.log.read_text()}")
            if result := condition():
                return result
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {bound} s; status {self.status()}; log:\n{self.log.read_text()}")

    def rounds(self, count: int) -> dict:
        """Wait for `count` more rounds; the status after them."""
        target = self.status()["rounds"] + count

        def done():
            status = self.status()
            return status["rounds"] >= target and status

        return self.wait_for(f"{count} more rounds", done)

    def failing(self, *names: str) -> dict:
        """Wait for a round in which exactly `names` failed; its status."""

        def seen():
            status = self.status()
            return status["rounds"] and sorted(f["name"] for f in status["failing"]) == sorted(names) and status

        return self.wait_for(f"a round with {names or 'nothing'} failing", seen)

    def healthcheck(self) -> subprocess.CompletedProcess:
        return healthcheck(self.status_file)


def healthcheck(status_file: Path) -> subprocess.CompletedProcess:
    """The container's healthcheck (compose.yml), run natively."""
    return subprocess.run(
        [sys.executable, "-m", "outages.status", str(status_file)],
        cwd=REPO / "app",
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextmanager
def running_watcher(tmp_path: Path, database_url: str, **env: str) -> Iterator[Watcher]:
    settings = {
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "ALERT_EMAILS": "ops@example.com, dev@example.com",
        "GLITCHTIP_ADMIN_EMAIL": "admin@example.com",
        "SENTRY_DSN": "",
        "OUTAGE_CHECK_INTERVAL_SECONDS": "1",
        "OUTAGE_CHECK_TIMEOUT_SECONDS": "2",
        "OUTAGE_ALERT_AFTER_SECONDS": str(ALERT_AFTER),
        "OUTAGE_STATUS_FILE": str(tmp_path / "status.json"),
        **env,
    }
    log = tmp_path / "watcher.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "watch_outages"],
            cwd=REPO / "app",
            env={**os.environ, **settings},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    watcher = Watcher(process, tmp_path / "status.json", log, settings)
    try:
        watcher.failing()  # a first round in which everything was reachable
        yield watcher
    finally:
        stop(process, timeout=20)


def app_url(postgres: PostgresServer) -> str:
    return postgres.url("app", APP_DB_PASSWORD, "app")


def mails(smtp, count: int, watcher: Watcher):
    """Wait until `count` e-mails have arrived; they, as (subject, body, recipients)."""
    watcher.wait_for(f"{count} e-mails", lambda: len(smtp.messages) >= count)
    return [
        (m["Subject"], m.get_payload(decode=True).decode().replace("\r\n", "\n"), m["X-Envelope-To"])
        for m in smtp.messages
    ]


def outage_seconds(body: str) -> int:
    """How long the first failing check had failed when the e-mail was written ("(2 min 5 s)")."""
    found = re.search(r"failing since [^(]+\((?:(\d+) min ?)?(?:(\d+) s)?\)", body)
    assert found, body
    return int(found[1] or 0) * 60 + int(found[2] or 0)


def test_a_postgres_outage_mails_once_and_once_more_when_it_is_over_each_time(
    tmp_path, postgres, smtp, glitchtip_dsn, glitchtip
):
    with running_watcher(tmp_path, app_url(postgres), SENTRY_DSN=glitchtip_dsn) as watcher:
        watcher.rounds(2)
        assert smtp.messages == []
        for outage in (1, 2):
            postgres.halt()
            watcher.failing("the database")
            # Unhealthy is for the watcher itself: watching an outage, it is healthy.
            health = watcher.healthcheck()
            assert health.returncode == 0 and "the database failing since" in health.stdout
            (subject, body, to), *_ = mails(smtp, 2 * outage - 1, watcher)[2 * outage - 2 :]
            assert subject == f"[test] Outage: the database unreachable since {subject[-9:]}"
            assert to == "ops@example.com, dev@example.com"
            assert f"127.0.0.1:{postgres.port}/app" in body and "GlitchTip" not in body.split("\n\n")[1]
            assert outage_seconds(body) >= ALERT_AFTER
            watcher.rounds(4)
            assert len(smtp.messages) == 2 * outage - 1, "one e-mail per outage"
            postgres.resume()
            subject, body, to = mails(smtp, 2 * outage, watcher)[-1]
            assert subject.startswith("[test] Resolved: the database reachable again (down ")
            assert to == "ops@example.com, dev@example.com"
            watcher.rounds(3)
            assert len(smtp.messages) == 2 * outage
    assert smtp.messages[0]["From"] == os.environ["DEFAULT_FROM_EMAIL"]
    # The GlitchTip check's client reports were accepted and dropped: nothing stored.
    assert glitchtip.state.issues == []


def test_postgres_and_glitchtip_down_together_are_one_outage(tmp_path, postgres, smtp, glitchtip_dsn, glitchtip):
    with running_watcher(tmp_path, app_url(postgres), SENTRY_DSN=glitchtip_dsn) as watcher:
        postgres.halt()
        glitchtip.down = True  # as GlitchTip answers while its database is gone: an error page
        watcher.failing("the database", "GlitchTip")
        ((subject, body, _),) = mails(smtp, 1, watcher)
        assert "Outage: the database and GlitchTip unreachable" in subject
        assert "answered HTTP 502" in body and "GlitchTip cannot store the app's errors" in body
        glitchtip.down = False  # GlitchTip back first: the outage goes on while the database is down
        watcher.rounds(3)
        assert len(smtp.messages) == 1
        postgres.resume()
        _, (subject, body, _) = mails(smtp, 2, watcher)
        assert "Resolved: the database and GlitchTip reachable again" in subject
        assert "may be missing from GlitchTip" in body
        watcher.rounds(3)
        assert len(smtp.messages) == 2


def test_a_failure_shorter_than_the_threshold_mails_nobody(tmp_path, postgres, smtp):
    with running_watcher(tmp_path, app_url(postgres), OUTAGE_ALERT_AFTER_SECONDS="600") as watcher:
        postgres.halt()
        watcher.failing("the database")
        watcher.rounds(2)
        postgres.resume()
        watcher.failing()
        watcher.rounds(2)
    assert smtp.messages == []
    assert "the database (127.0.0.1" in watcher.log.read_text() and "is reachable again" in watcher.log.read_text()


def test_without_alert_emails_the_admin_is_mailed_and_a_refused_e_mail_is_sent_at_a_later_round(
    tmp_path, postgres, smtp
):
    smtp.refuse("451 4.3.0 Mail server temporarily unavailable")
    with running_watcher(tmp_path, app_url(postgres), ALERT_EMAILS="") as watcher:
        postgres.halt()
        watcher.wait_for("a refused e-mail", lambda: watcher.status()["mail_error"])
        health = watcher.healthcheck()
        assert health.returncode == 1 and "could not be sent" in health.stderr and "451" in health.stderr
        smtp.reset()
        ((subject, _, to),) = mails(smtp, 1, watcher)
        assert to == "admin@example.com" and "Outage: the database" in subject
        assert watcher.healthcheck().returncode == 0
        postgres.resume()
        mails(smtp, 2, watcher)


def test_once_prints_each_check_and_fails_when_glitchtip_refuses_the_dsn(postgres, glitchtip, glitchtip_dsn):
    wrong_key = re.sub(r"//[0-9a-f]+@", "//" + "0" * 32 + "@", glitchtip_dsn)
    result = manage("watch_outages", "--once", env={"DATABASE_URL": app_url(postgres), "SENTRY_DSN": wrong_key})
    assert result.returncode == 1
    assert f"the database (127.0.0.1:{postgres.port}/app): reachable" in result.stdout
    assert "GlitchTip (" in result.stdout and "FAILING: answered HTTP 403" in result.stdout
    assert "1 of 2 checks failed" in result.stderr


@pytest.mark.parametrize(
    "env, named",
    [
        ({"ALERT_EMAILS": "", "GLITCHTIP_ADMIN_EMAIL": ""}, "nobody to mail: set ALERT_EMAILS"),
        ({"ALERT_EMAILS": "ops@example.com;dev@example.com"}, "ALERT_EMAILS holds 'ops@example.com;dev@example.com'"),
        ({"DATABASE_URL": "sqlite:////tmp/app.sqlite3"}, "DATABASE_URL names a sqlite database"),
        ({"OUTAGE_ALERT_AFTER_SECONDS": "soon"}, "OUTAGE_ALERT_AFTER_SECONDS"),
    ],
)
def test_a_setting_it_cannot_work_with_stops_it_naming_the_variable(tmp_path, env, named):
    result = manage(
        "watch_outages",
        env={"ALERT_EMAILS": "ops@example.com", "OUTAGE_STATUS_FILE": str(tmp_path / "status.json"), **env},
    )
    assert result.returncode != 0
    assert named in result.stderr
    assert not (tmp_path / "status.json").exists()


def test_the_healthcheck_fails_before_the_first_round_and_when_the_rounds_stopped(tmp_path):
    status = tmp_path / "status.json"
    result = healthcheck(status)
    assert result.returncode == 1 and "has not finished a round" in result.stderr
    # The watcher writes how old its last round may be: three rounds of 15 s with two 5 s timeouts each.
    last = datetime.now(UTC) - timedelta(seconds=60)
    status.write_text(
        json.dumps({"at": last.isoformat(), "rounds": 40, "stale_after": 75, "failing": [], "mail_error": None})
    )
    fresh = healthcheck(status)
    assert fresh.returncode == 0 and "everything reachable" in fresh.stdout
    stuck = (last - timedelta(seconds=90)).isoformat()
    status.write_text(json.dumps({"at": stuck, "rounds": 40, "stale_after": 75, "failing": [], "mail_error": None}))
    result = healthcheck(status)
    assert result.returncode == 1 and "the watcher is stuck" in result.stderr
