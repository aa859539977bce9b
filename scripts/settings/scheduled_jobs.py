"""The app's scheduled jobs, read from app/config/jobs.toml by the host-side scripts (no Django here)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from scripts.settings.envfiles import REPO


def jobs(root: Path = REPO) -> dict[str, str]:
    """Job name -> default cron schedule, in the order of the file."""
    with open(root / "app" / "config" / "jobs.toml", "rb") as jobs_file:
        schedule: dict[str, str] = tomllib.load(jobs_file)["schedule"]
    return schedule


def schedules(values: Mapping[str, str], root: Path = REPO) -> dict[str, str]:
    """Each job's cron schedule in an environment: SCHEDULE_<JOB> from its env files, else the default
    (as app/config/settings.py reads it)."""
    return {job: values.get(f"SCHEDULE_{job.upper()}") or default for job, default in jobs(root).items()}
