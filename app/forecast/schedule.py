"""The jobs' cron schedules (settings.SCHEDULE, from config/jobs.toml; UTC) as APScheduler triggers:
the scheduler runs the jobs on them, and pages tell when the next run comes."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.utils import timezone


def trigger(job: str) -> CronTrigger:
    """The job's trigger; ValueError naming the setting when its schedule is not a cron expression."""
    expression = settings.SCHEDULE[job]
    try:
        return CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValueError(
            f"SCHEDULE_{job.upper()}={expression!r} is not a cron expression (minute hour day month weekday): {exc}"
        ) from None


def next_run(job: str, now: datetime | None = None) -> datetime:
    """When the scheduler next starts `job` (aware, UTC)."""
    return trigger(job).get_next_fire_time(None, now or timezone.now())
