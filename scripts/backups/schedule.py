"""The backup service: a backup at BACKUP_SCHEDULE (cron, UTC) without anyone remembering.

Usage: python -m scripts.backups.schedule [--check]

The `backup` service of compose.yml (profile "backup", on in staging and production) runs this: at
each time of BACKUP_SCHEDULE the same backup as scripts/backup (`backup --direct`: the postgres
service, the uploads volume mounted read-only) into the bind-mounted BACKUP_DIR, keeping the newest
BACKUP_KEEP. APScheduler's cron trigger keeps the time, as it does for the app's scheduler.

--check is the container's healthcheck: healthy while the service waits and after a backup that
succeeded, unhealthy from a failed one until the next one succeeds (scripts/compose ENV ps shows it;
scripts/compose ENV logs backup says why).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from scripts.backups import backup
from scripts.backups.steps import Failed


def status_file() -> Path:
    return Path(os.environ.get("BACKUP_STATUS_FILE") or "/tmp/backup-status.json")


def record(state: str, detail: str) -> None:
    """The status for --check, replaced whole: the healthcheck never reads half a file."""
    partial = status_file().with_name(f".{status_file().name}.{os.getpid()}")
    partial.write_text(json.dumps({"state": state, "detail": detail, "at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"}))
    os.replace(partial, status_file())


def scheduled_backup() -> None:
    try:
        code = backup.main(["backup", "--direct"])
    except Exception as exc:  # recorded as a failure and logged; the service waits for the next time
        print(f"backup service: the backup failed: {exc!r}", file=sys.stderr, flush=True)
        code = 1
    record(
        "ok" if code == 0 else "failed",
        "the last backup succeeded"
        if code == 0
        else f"the last backup failed (exit status {code}): see the service's log",
    )


def check() -> int:
    try:
        status = json.loads(status_file().read_text())
    except (OSError, ValueError):
        print("backup service: no status yet (it has not started)")
        return 1
    print(f"backup service: {status['state']} at {status['at']}: {status['detail']}")
    return 1 if status["state"] == "failed" else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="schedule", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="healthcheck: exit 1 if the last backup failed")
    if parser.parse_args(argv[1:]).check:
        return check()
    schedule = os.environ.get("BACKUP_SCHEDULE", "")
    try:
        config = backup.Settings(os.environ.get("APP_ENV") or "development", os.environ)
        try:
            when = CronTrigger.from_crontab(schedule, timezone=UTC)
        except ValueError as exc:
            raise Failed(
                2,
                f"BACKUP_SCHEDULE is {schedule!r}, not a cron schedule ({exc})",
                "set it like '30 2 * * *' (minute hour day month weekday, UTC) in env/ENV.env",
            ) from None
    except Failed as error:
        return error.report("backup service")
    scheduler = BlockingScheduler(timezone=UTC)
    # One backup at a time; a time missed while the container was busy or down runs once, late.
    scheduler.add_job(scheduled_backup, when, id="backup", max_instances=1, coalesce=True, misfire_grace_time=3600)
    signal.signal(signal.SIGTERM, stop)  # PID 1 in a container: else `docker stop` waits for SIGKILL
    next_run = f"{when.get_next_fire_time(None, datetime.now(UTC)):%Y-%m-%d %H:%M UTC}"
    record("waiting", f"next backup at {next_run}")
    print(
        f"backup service {config.env}: a backup at {schedule!r} (UTC) into {config.folder}, keeping the newest "
        f"{config.keep}; next at {next_run}",
        flush=True,
    )
    try:
        scheduler.start()
    except SystemExit:
        print("backup service: stopped", flush=True)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
    return 0


def stop(signum, frame):
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
