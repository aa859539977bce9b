"""A job never runs twice at once (forecast/job_lock.py): two schedulers against one real Postgres, a
run by hand while another holds the lock, and a runner that dies with the lock. (On SQLite the jobs
run without a lock: tests/app/test_weather_collection.py runs one there.)"""

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from forecast import job_lock
from forecast.models import WeatherForecast
from tests.app.helpers import run_command
from tests.harness.processes import REPO, stop

JOB = "collect_weather_data"
# Every other job of config/jobs.toml out of the way (once a year) while the schedulers run.
NOT_NOW = "0 0 1 1 *"


def app_process(test_database_url: str, open_meteo, *args: str, log=subprocess.PIPE, **env: str) -> subprocess.Popen:
    """`manage.py ARGS` as its own process against the test database (what it reads must be committed)."""
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": test_database_url,
        "OPEN_METEO_FORECAST_URL": f"{open_meteo.url}/v1/forecast",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO / "app",
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def advisory_holders(test_database_url: str, job: str) -> list[str]:
    """application_name of every session holding the job's lock, as Postgres sees it."""
    unsigned = job_lock.lock_key(job) & 0xFFFF_FFFF_FFFF_FFFF
    with psycopg.connect(test_database_url, autocommit=True) as session:
        rows = session.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
            [unsigned >> 32, unsigned & 0xFFFF_FFFF],
        ).fetchall()
    return [name for (name,) in rows]


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_each_job_has_its_own_stable_key():
    keys = {
        job: job_lock.lock_key(job)
        for job in ("collect_weather_data", "generate_predictions", "process_notifications", "compare_forecasts")
    }
    assert len(set(keys.values())) == 4
    assert all(-(2**63) <= key < 2**63 for key in keys.values())  # Postgres's bigint
    assert keys["collect_weather_data"] == job_lock.lock_key("collect_weather_data")


def test_a_run_while_another_holds_the_lock_skips_says_who_and_changes_nothing(
    db, location, open_meteo, test_database_url
):
    with psycopg.connect(test_database_url, autocommit=True) as other_run:
        other_run.execute(
            "SELECT pg_advisory_lock(%s), set_config('application_name', %s, false)",
            [job_lock.lock_key(JOB), f"{JOB} on node-2 pid 7 since 04:05:00Z"],
        )
        status, output = run_command(JOB)
        assert status == 0, output
        assert f"{JOB}: skipped, another run holds its lock: {JOB} on node-2 pid 7 since 04:05:00Z" in output
        assert "Postgres server process" in output
        assert not open_meteo.requests and not WeatherForecast.objects.exists()
        # Another job has its own lock and runs.
        assert run_command("compare_forecasts")[0] == 0
    # The other session ended: its lock goes with it (once its server process has exited).
    wait_for(lambda: not advisory_holders(test_database_url, JOB), "the server to release the lock")
    status, output = run_command(JOB)
    assert status == 0 and "skipped" not in output and f"{JOB}: 1 ok, 0 failed" in output
    assert WeatherForecast.objects.filter(location=location).count() == 72


def test_the_lock_is_released_after_a_failed_run(db, location, open_meteo, test_database_url):
    from tests.harness.http_fake import Response

    open_meteo.script(*[Response(500, {"error": True, "reason": "x"})] * 4)
    status, output = run_command(JOB)
    assert status == 1 and "1 of 1 location(s) failed" in output
    assert advisory_holders(test_database_url, JOB) == []
    assert run_command(JOB)[0] == 0


def test_a_runner_that_dies_holding_the_lock_loses_it_with_its_connection(
    transactional_db, location, open_meteo, test_database_url
):
    open_meteo.delay = 15  # the first run waits on Open-Meteo, holding the lock, until it is killed
    first = app_process(test_database_url, open_meteo, JOB, OPEN_METEO_TIMEOUT="30")
    try:
        # (It names its session right after it took the lock.)
        holders = wait_for(
            lambda: [name for name in advisory_holders(test_database_url, JOB) if name],
            "the first run to hold the lock",
        )
        assert holders[0].startswith(f"{JOB} on ") and f"pid {first.pid} since " in holders[0]
        first.send_signal(signal.SIGKILL)  # as a node that is gone: no clean-up of its own
        first.wait(timeout=30)
    finally:
        stop(first)
    open_meteo.delay = 0
    wait_for(lambda: not advisory_holders(test_database_url, JOB), "the server to release the lock")
    status, output = run_command(JOB)
    assert status == 0 and "skipped" not in output, output


def test_two_schedulers_against_one_database_run_each_job_once_at_a_time(
    transactional_db, location, open_meteo, test_database_url, tmp_path
):
    """As Swarm may leave it after a node was cut off: two schedulers with the same schedule. Both fire
    at each minute; one runs the job (Open-Meteo answers slowly, so the run outlasts the other's start)
    and the other skips."""
    open_meteo.delay = 5
    slow_but_answered = {"OPEN_METEO_TIMEOUT": "30"}  # the harness gives Open-Meteo 2 s
    schedule = {
        f"SCHEDULE_{job.upper()}": NOT_NOW
        for job in ("generate_predictions", "process_notifications", "compare_forecasts")
    }
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    schedulers = [
        app_process(
            test_database_url,
            open_meteo,
            "scheduler",
            log=log.open("w"),
            SCHEDULE_COLLECT_WEATHER_DATA="* * * * *",
            SCHEDULER_HEARTBEAT_FILE=str(tmp_path / f"alive-{log.stem}"),
            **schedule,
            **slow_but_answered,
        )
        for log in logs
    ]

    def one_minute_seen() -> bool:
        text = "".join(log.read_text() for log in logs)
        return f"{JOB}: skipped" in text and f"{JOB}: 1 ok" in text

    try:
        # The first minute both schedulers are up for (at most two minutes away).
        wait_for(one_minute_seen, "a minute in which both schedulers fired", timeout=150)
    finally:
        for process in schedulers:
            stop(process)
    outputs = [log.read_text() for log in logs]
    assert all("scheduler running" in output for output in outputs), outputs
    text = "".join(outputs)
    assert f"{JOB}: skipped, another run holds its lock: {JOB} on " in text
    # Never two runs at once: Open-Meteo never had two requests in flight.
    assert open_meteo.max_in_flight == 1
    assert text.count(f"{JOB}: 1 ok, 0 failed") == len([r for r in open_meteo.requests if r.path == "/v1/forecast"])
    assert WeatherForecast.objects.filter(location=location).count() == 72


@pytest.fixture(autouse=True)
def _no_delay(open_meteo):
    yield
    open_meteo.delay = 0
    # A killed runner's request is still being answered: let it end before the next test counts requests.
    wait_for(lambda: open_meteo.in_flight == 0, "Open-Meteo's answers to end")
