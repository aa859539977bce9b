"""The scheduler: cron schedules from settings, a liveness file, a clean stop."""

import signal
import subprocess
import sys
import time

from forecast.management.commands import scheduler
from tests.app.helpers import run_command
from tests.harness.app import manage
from tests.harness.processes import REPO


def test_list_prints_each_job_with_its_next_run(db):
    status, output = run_command("scheduler", "--list")
    assert status == 0
    for job in ("collect_weather_data", "generate_predictions", "process_notifications", "compare_forecasts"):
        assert job in output
    assert "5 * * * *" in output and "next 20" in output


def test_a_bad_cron_expression_names_the_variable():
    result = manage("scheduler", "--list", env={"SCHEDULE_COMPARE_FORECASTS": "every six hours"})
    assert result.returncode == 1
    assert "SCHEDULE_COMPARE_FORECASTS" in result.stderr and "not a cron expression" in result.stderr


def test_a_scheduled_run_that_fails_is_logged_not_raised(transactional_db, location, open_meteo, caplog):
    from tests.harness.http_fake import Response

    open_meteo.script(*[Response(500, {"error": True, "reason": "x"})] * 4)
    scheduler.run_job("collect_weather_data")
    assert "collect_weather_data" in caplog.text and "failures" in caplog.text


def test_runs_touches_its_liveness_file_and_stops_on_sigterm(tmp_path):
    alive = tmp_path / "alive"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "scheduler"],
        cwd=REPO / "app",
        env={**__import__("os").environ, "SCHEDULER_HEARTBEAT_FILE": str(alive)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not alive.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert alive.exists()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "collect_weather_data: 5 * * * *" in output
    assert "scheduler stopping" in output
