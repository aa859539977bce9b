"""Run the jobs of config/jobs.toml on their cron schedules from settings.SCHEDULE (APScheduler, UTC).

`--check` is the container's healthcheck: it reads the liveness file the running scheduler
touches (settings.SCHEDULER_HEARTBEAT_FILE) and fails when it is stale.
"""

import logging
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from forecast import schedule

logger = logging.getLogger(__name__)

ALIVE_EVERY_SECONDS = 30
# Three missed touches: the scheduler is stuck or gone.
STALE_AFTER_SECONDS = 3 * ALIVE_EVERY_SECONDS


def run_job(name: str) -> None:
    """One scheduled run; the job reports its own failures, so here they are only logged."""
    close_old_connections()
    try:
        call_command(name)
    except CommandError as exc:
        logger.error("scheduled %s finished with failures: %s", name, exc)
    except Exception:
        logger.exception("scheduled %s crashed", name)
    finally:
        close_old_connections()


class Command(BaseCommand):
    help = "Run the scheduled jobs (config/jobs.toml) on their cron schedules."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="Print the schedule and next run times, then exit.")
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"Exit 0 if a running scheduler touched its liveness file in the last "
            f"{STALE_AFTER_SECONDS} s, else 1 (the container healthcheck).",
        )

    def triggers(self):
        try:
            return {job: schedule.trigger(job) for job in settings.SCHEDULE}
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def check_alive(self) -> None:
        alive = Path(settings.SCHEDULER_HEARTBEAT_FILE)
        try:
            age = time.time() - alive.stat().st_mtime
        except FileNotFoundError:
            raise CommandError(f"{alive} does not exist: the scheduler is not running") from None
        if age > STALE_AFTER_SECONDS:
            raise CommandError(
                f"{alive} was last touched {age:.0f} s ago (more than {STALE_AFTER_SECONDS} s): the scheduler is stuck"
            )
        self.stdout.write(f"scheduler alive ({alive} touched {age:.0f} s ago)")

    def handle(self, *args, **options):
        if options["check"]:
            self.check_alive()
            return
        triggers = self.triggers()
        scheduler = BlockingScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
        )
        for job, trigger in triggers.items():
            scheduler.add_job(run_job, trigger, args=[job], id=job, name=job)
        if options["list"]:
            now = datetime.now(UTC)
            for job, trigger in triggers.items():
                next_run = trigger.get_next_fire_time(None, now)
                self.stdout.write(f"{job:24} {settings.SCHEDULE[job]:16} next {next_run:%Y-%m-%d %H:%M} UTC")
            return
        # The handler before the first touch: whoever sees the liveness file may already stop it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        alive = Path(settings.SCHEDULER_HEARTBEAT_FILE)
        scheduler.add_job(alive.touch, "interval", seconds=ALIVE_EVERY_SECONDS, id="alive", name="alive")
        alive.touch()
        for job in triggers:
            self.stdout.write(f"scheduled {job}: {settings.SCHEDULE[job]} (UTC)")
        self.stdout.write("scheduler running; Ctrl+C or SIGTERM stops it")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            self.stdout.write("scheduler stopping")
            scheduler.shutdown(wait=False)
