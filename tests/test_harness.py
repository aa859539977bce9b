"""The harness starts the services a test uses, on first use, and nothing else."""

import subprocess
import sys

from tests.harness.processes import REPO


def pytest_run(*test_ids: str) -> str:
    """A separate pytest session (output not captured, so the harness's start lines show). Without
    pytest-cov (--no-cov), which would erase this run's coverage data: coverage measures it as it
    does every Python process a test starts."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "--no-cov", *test_ids],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_a_compose_only_test_starts_nothing():
    output = pytest_run("tests/stack/test_compose.py::test_every_variable_is_commented")
    assert "1 passed" in output and "harness: started" not in output


def test_a_database_test_starts_what_the_app_reaches_and_no_more():
    output = pytest_run("tests/app/test_pages.py::test_pages_need_login")
    started = [line.split()[2] for line in output.splitlines() if line.startswith("harness: started")]
    assert started == ["postgres", "redis", "smtp", "open_meteo"]
