"""Prove that events reach GlitchTip: send each kind, then find each one through GlitchTip's API.

Usage: scripts/smoke-test [ENV] [--timeout 60] [--url URL] [--release VERSION] [--app-command CMD | --skip-app]
                         [--alerts [--alert-timeout 150]] [--unless-verified]

With one run id it sends an exception, a message, an ERROR log record and a transaction with
spans, each carrying breadcrumbs, tags, a custom context and a user: once straight through
sentry-sdk (with the public DSN) and once through the running app (`manage.py sentry_check`
in the app container, i.e. the app's own Sentry set-up and in-network DSN). It then polls
GlitchTip until every event is visible (errors and messages by event id, transactions by their
run-id name among the newest transaction groups), checks environment and release, that scrubbed
values did not arrive, and prints a table. Exit 0 only when everything arrived in time.

Its events are grouped into one issue per kind whatever the run (a fixed fingerprint), so that
repeated runs do not make new issues, each of which would mail the "new issue" alert.

--alerts then proves that an alert reaches a person: it sends an error that makes a new issue and
waits for GlitchTip's alert e-mail about it in mailpit (development; GlitchTip's worker looks for
new issues every 60 s, so allow about 70 s). Without mailpit it says what to look for in whose inbox.
--unless-verified (scripts/up) skips the run when the stack is exactly as the last passing run
left it: the same containers and the same settings (env/ENV.verified records that state).

Before sending anything it checks that both DSNs carry a key of the project: a wrong key would
make GlitchTip block the project for 30 seconds, failing this run and any other sender.
Exit status: 0 all arrived, 1 something missing or wrong, 2 configuration, 10 GlitchTip
unreachable, 16 DSN does not match the project, 21 the app could not send, 23 no alert e-mail.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shlex
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import sentry_sdk

from glitchtip.alerts import AlertSettings, AlertSettingsError
from glitchtip.client import GlitchTipClient, GlitchTipError, hex_key
from scripts._steps import StepFailed, Steps
from scripts.settings import envfiles, tls
from scripts.stack import engine, stack_runtime

POLL_SECONDS = 1.0
MAIL_POLL_SECONDS = 2.0


@dataclass
class Expected:
    kind: str
    source: str
    event_id: str
    release: str | None
    transaction: str = ""  # the unique, run-id-bearing name a transaction is found by
    seen_after: float | None = None
    status: str = "MISSING"


def canaries(run_id: str) -> list[str]:
    """Values that the scrubbers must remove; finding one in GlitchTip is a failure.

    They are set as extras named password and api_key (here and in the app's sentry_check),
    never held in local variables, which the SDK would report with a stack trace.
    """
    return [f"pw-canary-{run_id}", f"key-canary-{run_id}"]


@contextlib.contextmanager
def sdk(dsn: str, environment: str, release: str, trust: str | bool = True) -> Iterator[None]:
    """sentry-sdk set up for the block; everything sent is delivered (or given up) when it ends. An https
    DSN is verified against `trust` (a CA file; True: the public CAs)."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        traces_sample_rate=1.0,
        auto_session_tracking=False,
        default_integrations=True,
        ca_certs=trust if isinstance(trust, str) else None,
    )
    try:
        yield
    finally:
        sentry_sdk.flush(timeout=10)
        sentry_sdk.get_client().close()


def send_through_sdk(dsn: str, environment: str, release: str, run_id: str, trust: str | bool = True) -> dict[str, str]:
    """One event of each kind straight through sentry-sdk, as any Sentry-compatible client would."""
    ids = {}
    with sdk(dsn, environment, release, trust), sentry_sdk.new_scope() as scope:
        scope.set_tag("run_id", run_id)
        scope.set_tag("source", "smoke-test")
        scope.set_user({"id": "smoke-test", "username": "smoke-test"})
        scope.set_context("smoke_test", {"run_id": run_id, "host": os.uname().nodename})
        scope.set_extra("password", f"pw-canary-{run_id}")
        scope.set_extra("api_key", f"key-canary-{run_id}")
        sentry_sdk.add_breadcrumb(category="smoke", message=f"smoke-test {run_id} started", level="info")
        # One issue per kind, whatever the run id in the title: a smoke test is no news to the alerts.
        scope.fingerprint = ["smoke-test", "error"]
        try:
            raise RuntimeError(f"smoke-test exception {run_id}")
        except RuntimeError:
            ids["error"] = sentry_sdk.capture_exception() or ""
        scope.fingerprint = ["smoke-test", "message"]
        ids["message"] = sentry_sdk.capture_message(f"smoke-test message {run_id}", level="warning") or ""
        scope.fingerprint = ["smoke-test", "log"]
        logger = logging.getLogger("smoke-test")
        logger.addHandler(logging.NullHandler())  # to GlitchTip only, not to this terminal
        logger.propagate = False
        logger.error("smoke-test error log %s", run_id)
        ids["log"] = sentry_sdk.last_event_id() or ""
        transaction = sentry_sdk.start_transaction(op="smoke", name=f"smoke-test {run_id}", sampled=True)
        for step in ("weather.fetch", "llm.call", "db.query"):
            with transaction.start_child(op=step, name=f"smoke-test {step}"):
                time.sleep(0.01)
        ids["transaction"] = transaction.finish() or ""
    return ids


def send_alert_probe(
    dsn: str, environment: str, release: str, run_id: str, alert_id: str, trust: str | bool = True
) -> str:
    """An error that makes a new issue (its own fingerprint), which the "new issue" alert mails; its
    title carries `alert_id`, which no other event has (the run's other issues may be new too)."""
    with sdk(dsn, environment, release, trust), sentry_sdk.new_scope() as scope:
        scope.set_tag("run_id", run_id)
        scope.set_tag("source", "smoke-test")
        scope.fingerprint = ["smoke-test-alert", alert_id]
        try:
            raise RuntimeError(f"smoke-test alert {alert_id}")
        except RuntimeError:
            return sentry_sdk.capture_exception() or ""


def mailpit_url(values: dict[str, str]) -> str | None:
    """mailpit's web address on this machine, when the environment runs it (profile "dev")."""
    if "dev" not in values.get("COMPOSE_PROFILES", "").split(","):
        return None
    return f"http://localhost:{values.get('MAILPIT_UI_PORT') or 8025}"


def find_mail(mailpit: str, text: str) -> dict | None:
    """The newest message in mailpit that mentions `text` (subject or body)."""
    response = requests.get(f"{mailpit}/api/v1/search", params={"query": text}, timeout=10)
    response.raise_for_status()
    messages = response.json().get("messages", [])
    return messages[0] if messages else None


def stack_state(env: str, values: dict[str, str]) -> str | None:
    """What the smoke test verified: the running containers (a recreated one has a new id) and the
    merged settings. None when Docker cannot tell (then the test always runs)."""
    try:
        running = sorted(f"{c.service}={c.id}" for c in engine.containers(env) if c.state == "running")
    except engine.EngineError:
        return None
    return hashlib.sha256(json.dumps([running, sorted(values.items())]).encode()).hexdigest() if running else None


def verified_file(env: str):
    return envfiles.REPO / "env" / f"{env}.verified"


def send_through_app(command: list[str], run_id: str) -> dict:
    try:
        result = engine.run(
            [*command, "--json", "--run-id", run_id],
            timeout=120,
            fix="check that the app container answers: scripts/compose ENV ps app",
        )
    except engine.EngineError as exc:
        raise StepFailed(
            21, f"the app's sentry_check: {exc}", "start the stack and wait until the app is healthy"
        ) from None
    if result.returncode != 0:
        raise StepFailed(
            21,
            f"the app's sentry_check failed: {result.stderr.strip()[-500:]}",
            "check that the app container runs and SENTRY_DSN is set (scripts/bootstrap-glitchtip)",
        )
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise StepFailed(
            21,
            f"sentry_check printed no JSON: {result.stdout[-300:]!r}",
            "run manage.py sentry_check --json in the app container to see why",
        ) from None


def tag(event: dict, key: str) -> str | None:
    return next((t["value"] for t in event.get("tags", []) if t.get("key") == key), None)


class SmokeTest:
    def __init__(self, env: str, values: dict[str, str], args):
        self.env = env
        self.values = values
        self.args = args
        # https (GlitchTip's API and the public DSN) is verified against the environment's CA.
        self.trust = tls.trust(env, values)
        self.client = GlitchTipClient(
            args.url or values["GLITCHTIP_PUBLIC_URL"], values.get("GLITCHTIP_API_TOKEN", ""), verify=self.trust
        )
        self.run_id = uuid.uuid4().hex[:12]
        self.steps = Steps("smoke-test", 4)
        self.alert_steps = Steps("smoke-test --alerts", 1)
        self.release = ""
        self.expected: list[Expected] = []

    def require(self, name: str) -> str:
        value = self.values.get(name, "")
        if not value:
            raise StepFailed(2, f"{name} is empty", f"run scripts/bootstrap-glitchtip {self.env} first")
        return value

    def app_command(self) -> list[str]:
        if self.args.app_command:
            return shlex.split(self.args.app_command)
        try:  # in an app container, under Compose or Swarm alike
            return stack_runtime.exec_command(self.env, "app", ["python", "manage.py", "sentry_check"])
        except envfiles.EnvError as exc:
            raise StepFailed(21, str(exc), "start the stack and wait until the app is healthy") from None

    def run(self) -> bool:
        public_dsn, internal_dsn = self.require("SENTRY_PUBLIC_DSN"), self.require("SENTRY_DSN")
        self.require("GLITCHTIP_API_TOKEN")
        environment = self.values.get("SENTRY_ENVIRONMENT", self.env)
        with self.steps.step(f"find project {self.values.get('GLITCHTIP_PROJECT')!r} and check the DSNs") as out:
            self.org, self.project = self.find_project()
            self.check_dsns(public_dsn, internal_dsn)
            out["result"] = f"{self.org}/{self.project.slug}, keys match"
        release = (
            self.args.release
            or os.environ.get("SENTRY_RELEASE")
            or self.values.get("SENTRY_RELEASE")
            or f"smoke-test@{self.run_id}"
        )
        self.release = release
        with self.steps.step(f"send through sentry-sdk (run {self.run_id})") as out:
            ids = send_through_sdk(public_dsn, environment, release, self.run_id, self.trust)
            self.expected += [
                Expected(kind, "sdk", event_id, release, f"smoke-test {self.run_id}") for kind, event_id in ids.items()
            ]
            out["result"] = f"{len(ids)} events"
        with self.steps.step("send through the app (manage.py sentry_check)") as out:
            if self.args.skip_app:
                out["result"] = "skipped (--skip-app)"
            else:
                report = send_through_app(self.app_command(), self.run_id)
                if report.get("environment") != environment:
                    raise StepFailed(
                        1,
                        f"the app reports environment {report.get('environment')!r}, "
                        f"env/{self.env}.env says {environment!r}",
                        f"restart the app after changing SENTRY_ENVIRONMENT: scripts/compose {self.env} up -d",
                    )
                self.expected += [
                    Expected(kind, "app", event_id, report.get("release"), f"sentry_check {self.run_id}")
                    for kind, event_id in report["events"].items()
                ]
                out["result"] = f"{len(report['events'])} events"
        with self.steps.step(f"wait for GlitchTip (up to {self.args.timeout:.0f} s)") as out:
            self.poll(environment)
            arrived = sum(e.status == "ok" for e in self.expected)
            out["result"] = f"{arrived} of {len(self.expected)} arrived intact"
        self.print_table()
        return all(e.status == "ok" for e in self.expected)

    def check_alert(self) -> None:
        """Send an error that opens a new issue and wait for GlitchTip's alert e-mail about it."""
        try:
            settings = AlertSettings.from_values(self.values)
        except AlertSettingsError as exc:
            raise StepFailed(2, str(exc), f"{exc.fix} (in {envfiles.origin(self.env, exc.variable)})") from None
        mailpit = mailpit_url(self.values)
        environment = self.values.get("SENTRY_ENVIRONMENT", self.env)
        alert_id = uuid.uuid4().hex[:12]
        with self.alert_steps.step(f"alert e-mail for a new issue (smoke-test alert {alert_id})") as out:
            send_alert_probe(
                self.require("SENTRY_PUBLIC_DSN"), environment, self.release, self.run_id, alert_id, self.trust
            )
            if mailpit is None:
                out["result"] = (
                    f'sent; no mailpit in {self.env}: look for "smoke-test alert {alert_id}" in '
                    f"the inbox of {', '.join(settings.emails)} within a few minutes"
                )
                return
            started = time.monotonic()
            while (found := find_mail(mailpit, alert_id)) is None:
                if time.monotonic() - started > self.args.alert_timeout:
                    raise StepFailed(
                        23,
                        f"no alert e-mail mentioning {alert_id} reached mailpit ({mailpit}) "
                        f"within {self.args.alert_timeout:.0f} s",
                        f"check the alerts (scripts/bootstrap-glitchtip {self.env}), that "
                        f"{', '.join(settings.emails)} accepted GlitchTip's invitation, and "
                        f"scripts/compose {self.env} logs glitchtip-worker",
                    )
                time.sleep(MAIL_POLL_SECONDS)
            to = ", ".join(address["Address"] for address in found.get("To", []))
            out["result"] = f'arrived after {time.monotonic() - started:.0f} s: "{found.get("Subject")}" to {to}'

    def find_project(self):
        try:
            org = next(
                (o.slug for o in self.client.organizations() if o.name == self.values["GLITCHTIP_ORGANIZATION"]), None
            )
            project = (
                next((p for p in self.client.projects(org) if p.name == self.values["GLITCHTIP_PROJECT"]), None)
                if org
                else None
            )
        except GlitchTipError as exc:
            if exc.status is None or exc.status >= 500:
                raise StepFailed(
                    10,
                    f"GlitchTip is not answering: {exc}",
                    f"start the stack (scripts/compose {self.env} up -d) and wait until it is healthy",
                ) from None
            raise StepFailed(
                2,
                f"GlitchTip refused the API token ({exc.status} {exc.detail})",
                f"run scripts/bootstrap-glitchtip {self.env} to get a new one",
            ) from None
        if project is None:
            raise StepFailed(
                2,
                "the organization or project does not exist in GlitchTip",
                f"run scripts/bootstrap-glitchtip {self.env}",
            )
        return org, project

    def check_dsns(self, *dsns: str) -> None:
        keys = {hex_key(k.id) for k in self.client.project_keys(self.org, self.project.slug)}
        for dsn in dsns:
            parts = urlsplit(dsn)
            if parts.username not in keys or parts.path.strip("/") != self.project.id:
                raise StepFailed(
                    16,
                    "a DSN in the secrets file does not belong to the project (sending with it "
                    "would make GlitchTip block the project for 30 s)",
                    f"run scripts/bootstrap-glitchtip {self.env} to write the current DSN",
                )

    def poll(self, environment: str) -> None:
        started = time.monotonic()
        leaks = canaries(self.run_id)
        if self.values.get("SENTRY_SEND_DEFAULT_PII", "false").lower() != "true":
            leaks.append(f"canary-{self.run_id}@example.com")
        while True:
            pending = [e for e in self.expected if e.seen_after is None]
            transactions = (
                self.client.newest_transaction_names(self.org)
                if any(e.kind == "transaction" for e in pending)
                else set()
            )
            for expected in pending:
                if expected.kind == "transaction":
                    if expected.transaction in transactions:
                        expected.seen_after, expected.status = time.monotonic() - started, "ok"
                    continue
                event = self.client.event(self.org, self.project.slug, expected.event_id)
                if event is None:
                    continue
                expected.seen_after = time.monotonic() - started
                expected.status = self.verdict(event, expected, environment, leaks)
            if all(e.seen_after is not None for e in self.expected) or time.monotonic() - started > self.args.timeout:
                return
            time.sleep(POLL_SECONDS)

    def verdict(self, event: dict, expected: Expected, environment: str, leaks: list[str]) -> str:
        text = json.dumps(event)
        if any(leak in text for leak in leaks):
            return "SCRUBBED VALUE ARRIVED"
        if tag(event, "environment") != environment:
            return f"WRONG ENVIRONMENT {tag(event, 'environment')!r}"
        if expected.release and tag(event, "release") != expected.release:
            return f"WRONG RELEASE {tag(event, 'release')!r}"
        if tag(event, "run_id") != self.run_id:
            return "RUN ID TAG MISSING"
        return "ok"

    def print_table(self) -> None:
        print(f"\n{'kind':<12} {'source':<7} {'event id':<33} {'seen after':>10}  status")
        for e in self.expected:
            seen = f"{e.seen_after:.1f} s" if e.seen_after is not None else "-"
            print(f"{e.kind:<12} {e.source:<7} {e.event_id or '(none)':<33} {seen:>10}  {e.status}")
        print(
            "(transactions: found by their run-id name among the newest transaction groups; GlitchTip's API "
            "shows no transaction by id, nor a transaction's environment or release)"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="smoke-test", description=__doc__.split("\n")[0])
    parser.add_argument("env", nargs="?")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for all events (default 60)")
    parser.add_argument("--url", help="GlitchTip's address (default: GLITCHTIP_PUBLIC_URL)")
    parser.add_argument("--release", help="release for the SDK events (default: $SENTRY_RELEASE)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--app-command", help="command that runs the app's sentry_check (default: in the app container)")
    group.add_argument("--skip-app", action="store_true", help="only send through sentry-sdk")
    parser.add_argument(
        "--alerts", action="store_true", help="also send a new error and wait for GlitchTip's alert e-mail in mailpit"
    )
    parser.add_argument(
        "--alert-timeout", type=float, default=150.0, help="seconds to wait for the alert e-mail (default 150)"
    )
    parser.add_argument(
        "--unless-verified",
        action="store_true",
        help="skip when nothing changed since the last passing run (scripts/up)",
    )
    args = parser.parse_args(argv[1:])
    steps = Steps("smoke-test", 1)
    try:
        env = envfiles.environment(args.env)
        values = envfiles.read_environment(env)
        state = stack_state(env, values) if args.unless_verified else None
        recorded = verified_file(env).read_text().split() if verified_file(env).exists() else []
        if state and recorded[:1] == [state]:
            print(
                f"smoke-test {env}: skipped, nothing changed since it passed at {recorded[-1]} "
                f"(scripts/smoke-test {env} runs it again)"
            )
            return 0
        smoke = SmokeTest(env, values, args)
        steps = smoke.steps
        print(f"smoke-test {env}: run id {smoke.run_id}")
        ok = smoke.run()
        if ok and args.alerts:
            steps = smoke.alert_steps
            smoke.check_alert()
    except envfiles.EnvError as exc:
        print(f"smoke-test: {exc}", file=sys.stderr)
        return 2
    except StepFailed as error:
        return steps.fail(error)
    except GlitchTipError as exc:
        print(f"smoke-test: {exc} {exc.detail}", file=sys.stderr)
        return 10
    if not ok:
        print("smoke-test: FAILED: not every event arrived intact within the timeout (see the table)", file=sys.stderr)
        return 1
    print("smoke-test: every event arrived")
    if state:
        envfiles.write_atomically(verified_file(env), f"{state} {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n", 0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
