"""What the four jobs share: one run at a time (forecast/job_lock.py), one Sentry transaction per
run, a progress line per item (or per batch, for the jobs that work in batches), one database
transaction per item or batch (a failure leaves nothing half-written), failures reported and
counted without stopping the run, a summary, a heartbeat to GlitchTip, and the exit status.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import requests
import sentry_sdk
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from forecast import job_lock
from forecast.models import Location
from forecast.open_meteo import WeatherAPIError
from forecast.reporting import ReportedError, report_weather_failure, tag_location

logger = logging.getLogger(__name__)


def report_failure(exc: Exception, locations=()) -> None:
    """One event for a failure, however many locations it cost."""
    if isinstance(exc, ReportedError):
        return
    if isinstance(exc, WeatherAPIError):
        report_weather_failure(exc, locations=locations)
        return
    with sentry_sdk.new_scope() as scope:
        if len(locations) == 1:
            tag_location(scope, locations[0])
        sentry_sdk.capture_exception(exc)


def ping_heartbeat(job: str) -> bool:
    """Tell GlitchTip's heartbeat monitor for `job` that it ran; a failed ping is logged, never fatal."""
    url = settings.HEARTBEAT_URLS.get(job)
    if not url:
        return False
    try:
        requests.post(url, timeout=5).raise_for_status()
    except requests.RequestException as exc:
        logger.warning("heartbeat for %s not delivered: %s", job, exc)
        return False
    return True


class JobCommand(BaseCommand):
    """Base for the scheduled jobs. Subclasses set `job_name` and implement `items` and `process`."""

    job_name: str = ""
    item_label = "location"
    # Appended to the summary line; batched jobs set it in `run` (requests made, LLM budget...).
    details = ""

    def add_arguments(self, parser):
        parser.add_argument(
            "--location-id",
            type=int,
            action="append",
            dest="location_ids",
            metavar="ID",
            help="Only this location (repeatable).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Fetch and compute, but store nothing.")
        parser.add_argument(
            "--cleanup",
            action="store_true",
            help=f"Also delete rows older than DATA_RETENTION_DAYS ({settings.DATA_RETENTION_DAYS}).",
        )

    def locations(self, options):
        queryset = Location.objects.select_related("user").order_by("pk")
        if options["location_ids"]:
            queryset = queryset.filter(pk__in=options["location_ids"])
            missing = set(options["location_ids"]) - set(queryset.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No location with id {', '.join(map(str, sorted(missing)))}.")
        return queryset

    def items(self, options):
        return self.locations(options)

    def process(self, item, options) -> str:
        raise NotImplementedError

    def cleanup(self, before) -> int:
        return 0

    def location_of(self, item):
        return item if isinstance(item, Location) else None

    def run(self, items: list, options) -> tuple[int, int]:
        """Process the items; returns (done, failed). Here one at a time, each in its own
        database transaction; batched jobs override this."""
        failed = done = 0
        for number, item in enumerate(items, 1):
            prefix = f"[{number}/{len(items)}] {self.item_label} {item.pk} {item}"
            location = self.location_of(item)
            with sentry_sdk.new_scope() as scope:
                if location is not None:
                    tag_location(scope, location)
                try:
                    with transaction.atomic():
                        summary = self.process(item, options)
                except Exception as exc:  # one bad item never stops the run
                    failed += 1
                    report_failure(exc, [location] if location is not None else [])
                    self.item_failed(prefix, exc)
                    continue
            done += 1
            self.stdout.write(f"{prefix}: {summary}")
        return done, failed

    def item_failed(self, prefix: str, exc: Exception) -> None:
        logger.warning("%s: %s failed: %s", self.job_name, prefix, exc)
        self.stdout.write(self.style.ERROR(f"{prefix}: FAILED {exc}"))

    def handle(self, *args, **options):
        # Never two runs of a job at once (two schedulers after a node was lost, or a run by hand):
        # forecast/job_lock.py. A run that finds it taken does nothing, misses no heartbeat (the
        # other run pings) and exits 0.
        with job_lock.exclusive(self.job_name) as lock:
            if not lock.held:
                logger.warning("%s skipped: another run holds its lock: %s", self.job_name, lock.holder)
                self.stdout.write(f"{self.job_name}: skipped, another run holds its lock: {lock.holder}")
                return
            self.run_once(options)

    def run_once(self, options) -> None:
        started = time.monotonic()
        # The guide's name for "which scheduled task", on every event of the run and its transaction:
        # a scope of its own, which the batched jobs' worker threads record into too (forecast/workers.py).
        with sentry_sdk.isolation_scope() as scope, sentry_sdk.start_transaction(op="job", name=self.job_name) as job:
            scope.set_tag("cron_job", self.job_name)
            job.set_tag("job", self.job_name)
            items = list(self.items(options))
            dry_run = " [dry run]" if options["dry_run"] else ""
            self.stdout.write(f"{self.job_name}: {len(items)} {self.item_label}(s){dry_run}")
            done, failed = self.run(items, options)
            if options["cleanup"] and not options["dry_run"]:
                deleted = self.cleanup(timezone.now() - timedelta(days=settings.DATA_RETENTION_DAYS))
                self.stdout.write(f"cleanup: {deleted} old rows deleted")
            job.set_data("items", len(items))
            job.set_data("failed", failed)
            job.set_status("ok" if not failed else "internal_error")
        elapsed = time.monotonic() - started
        self.stdout.write(f"{self.job_name}: {done} ok, {failed} failed in {elapsed:.1f}s{self.details}")
        # A partial run still ran: only a run where everything failed misses its heartbeat.
        if not options["dry_run"] and (done or not items):
            ping_heartbeat(self.job_name)
        if failed:
            raise CommandError(f"{failed} of {len(items)} {self.item_label}(s) failed; see the lines above.")
