"""One list of jobs (app/config/jobs.toml): everything else follows from it."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.harness.processes import REPO

JOBS = tomllib.loads((REPO / "app" / "config" / "jobs.toml").read_text())["schedule"]
COMMANDS = REPO / "app" / "forecast" / "management" / "commands"
BARE_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def test_every_job_is_a_job_command_and_every_job_command_is_listed():
    job_commands = {path.stem for path in COMMANDS.glob("*.py") if "(JobCommand)" in path.read_text()}
    assert job_commands == set(JOBS)
    for job in JOBS:
        assert f'job_name = "{job}"' in (COMMANDS / f"{job}.py").read_text(), job


@pytest.mark.parametrize(
    "path",
    [
        "compose.yml",
        "glitchtip/compose.yml",
        "env/defaults.env",
        "env/development.env",
        "env/staging.env",
        "env/production.env",
        "scripts/settings/generate_secrets.py",
        "scripts/stack/check_env.py",
        "scripts/tracker/bootstrap.py",
        "app/config/settings.py",
    ],
)
def test_no_per_job_line_anywhere_else(path):
    lines = [line for line in (REPO / path).read_text().splitlines() if not line.lstrip().startswith("#")]
    for job in JOBS:
        assert not [line for line in lines if re.search(job, line, re.IGNORECASE)], f"{path} names {job}"


@pytest.fixture
def app_with_a_fifth_job(tmp_path):
    """A copy of app/ where a fifth job was added the documented way: a command and one line."""
    app = tmp_path / "app"
    shutil.copytree(REPO / "app", app, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "staticfiles"))
    (app / "forecast" / "management" / "commands" / "prune_reports.py").write_text(
        "from forecast.jobs import JobCommand\n\n\n"
        "class Command(JobCommand):\n"
        '    job_name = "prune_reports"\n\n'
        "    def items(self, options):\n"
        "        return []\n"
    )
    with open(app / "config" / "jobs.toml", "a") as jobs:
        jobs.write('prune_reports = "45 4 * * *"\n')
    return app


def manage(app, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=app,
        env={**BARE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_fifth_job_is_one_line_and_its_command(app_with_a_fifth_job):
    listed = manage(app_with_a_fifth_job, "scheduler", "--list")
    assert listed.returncode == 0, listed.stderr
    assert ["prune_reports", "45", "4", "*", "*", "*"] in [line.split()[:6] for line in listed.stdout.splitlines()]
    # Its heartbeat URL is accepted, an unknown job's is not.
    urls = {"prune_reports": "http://glitchtip-web:8000/api/0/organizations/o/heartbeat_check/x/"}
    assert manage(app_with_a_fifth_job, "check", HEARTBEAT_URLS=json.dumps(urls)).returncode == 0
    unknown = manage(app_with_a_fifth_job, "check", HEARTBEAT_URLS=json.dumps({"nightly": urls["prune_reports"]}))
    assert unknown.returncode != 0 and "Unknown job 'nightly'" in unknown.stderr
    # Overridden per environment like the others.
    moved = manage(app_with_a_fifth_job, "scheduler", "--list", SCHEDULE_PRUNE_REPORTS="0 5 * * *")
    assert ["prune_reports", "0", "5", "*", "*", "*"] in [line.split()[:6] for line in moved.stdout.splitlines()]
