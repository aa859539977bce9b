"""Watch the app's database and GlitchTip; e-mail ALERT_EMAILS when one stays unreachable, and when it is back.

The command of the outage-watcher service (compose.yml; what and why: outages/__init__.py).
APScheduler runs a round every OUTAGE_CHECK_INTERVAL_SECONDS, as it runs the jobs of
`manage.py scheduler`. Each round writes OUTAGE_STATUS_FILE, which the container's healthcheck reads
(`python -m outages.status FILE`).
"""

from __future__ import annotations

import logging
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outages import checks, notices, status
from outages.watch import Change, Watch

logger = logging.getLogger("outages")


def run(check: checks.Check) -> str | None:
    """None when the check passed, else what it saw."""
    try:
        check.run()
    except checks.CheckFailed as exc:
        return str(exc)
    except Exception as exc:  # a check that breaks counts as failed: better an e-mail than silence
        logger.exception("the check of %s broke", check.name)
        return f"the check itself failed: {exc!r}"
    return None


class Watcher:
    def __init__(self, watched: list[checks.Check], to: list[str]):
        self.checks = watched
        self.to = to
        self.watch = Watch([check.name for check in watched], timedelta(seconds=settings.OUTAGE_ALERT_AFTER_SECONDS))
        self.rounds = 0
        self.mail_error: str | None = None

    def round(self) -> None:
        now = datetime.now(UTC)
        for check in self.checks:
            reason = run(check)
            change = self.watch.record(check.name, reason, now)
            if change is Change.FAILING:
                logger.warning("%s (%s) is failing: %s", check.name, check.where, reason)
            elif change is Change.BACK:
                logger.info("%s (%s) is reachable again", check.name, check.where)
        if notice := self.watch.due(now):
            letter = notices.compose(
                notice, self.checks, settings.OUTAGE_CHECK_INTERVAL_SECONDS, settings.OUTAGE_ALERT_AFTER_SECONDS
            )
            try:
                notices.send(letter, self.to)
            except notices.NoticeError as exc:
                # The first failure is an error (GlitchTip may still take it); retries are warnings.
                (logger.warning if self.mail_error else logger.error)(
                    "could not mail %r to %s: %s; trying again at the next round",
                    letter.subject,
                    ", ".join(self.to),
                    exc,
                )
                self.mail_error = str(exc)
            else:
                self.watch.sent(notice)
                self.mail_error = None
                logger.info("mailed %r to %s", letter.subject, ", ".join(self.to))
        self.rounds += 1
        status.write(
            Path(settings.OUTAGE_STATUS_FILE),
            {
                "at": now.isoformat(),
                "rounds": self.rounds,
                "stale_after": stale_after(),
                "failing": [
                    {
                        "name": t.name,
                        "since": t.failing_since.isoformat() if t.failing_since else None,
                        "reason": t.reason,
                    }
                    for t in self.watch.failing()
                ],
                "mail_error": self.mail_error,
            },
        )


def stale_after() -> int:
    """Three rounds missed (each may take both checks' timeouts): the watcher is stuck or gone."""
    return 3 * (settings.OUTAGE_CHECK_INTERVAL_SECONDS + 2 * settings.OUTAGE_CHECK_TIMEOUT_SECONDS)


class Command(BaseCommand):
    help = (
        "Check the database and GlitchTip every OUTAGE_CHECK_INTERVAL_SECONDS; e-mail ALERT_EMAILS once one has "
        "failed for OUTAGE_ALERT_AFTER_SECONDS, and once more when all are back."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Check once and print the results (exit status 1 if one failed); mail nothing.",
        )

    def handle(self, *args, **options):
        try:
            watched = self.checks()
            to = [] if options["once"] else notices.recipients()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["once"]:
            failed = 0
            for check in watched:
                reason = run(check)
                failed += reason is not None
                self.stdout.write(f"{check.name} ({check.where}): {'FAILING: ' + reason if reason else 'reachable'}")
            if failed:
                raise CommandError(f"{failed} of {len(watched)} checks failed")
            return
        self.watch(Watcher(watched, to))

    def checks(self) -> list[checks.Check]:
        timeout = settings.OUTAGE_CHECK_TIMEOUT_SECONDS
        watched = [checks.database(timeout)]
        if settings.SENTRY.dsn:
            watched.append(checks.glitchtip(settings.SENTRY.dsn, timeout))
        else:
            logger.warning("SENTRY_DSN is empty, so GlitchTip is not checked (scripts/bootstrap-glitchtip writes it)")
        return watched

    def watch(self, watcher: Watcher) -> None:
        interval = settings.OUTAGE_CHECK_INTERVAL_SECONDS
        scheduler = BlockingScheduler(timezone=UTC)
        # One round at a time; a round that overran its interval is not made up for.
        scheduler.add_job(
            watcher.round,
            "interval",
            seconds=interval,
            next_run_time=datetime.now(UTC),
            id="round",
            max_instances=1,
            coalesce=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # Not two lines a round ("Running job", "executed successfully"): the watcher logs what changes.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        logger.info(
            "outage watcher: checking %s every %d s; after %d s of failure it mails %s",
            " and ".join(f"{c.name} ({c.where})" for c in watcher.checks),
            interval,
            settings.OUTAGE_ALERT_AFTER_SECONDS,
            ", ".join(watcher.to),
        )
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            logger.info("outage watcher stopping")
            scheduler.shutdown(wait=False)
