"""The app run as its own processes: `manage.py` commands and gunicorn with the bundle's config."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.processes import REPO, free_port, stop, wait_for_port


def manage(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run `manage.py` in its own process, with the test environment plus `env`."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO / "app",
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@dataclass
class Gunicorn:
    url: str
    log: Path
    process: subprocess.Popen

    def __str__(self):
        return self.url

    def log_line(self, containing: str, timeout: float = 10.0) -> str:
        """The access-log line with `containing`; gunicorn writes it just after sending the response."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if containing in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no log line with {containing!r} in {self.log}")

    def log_lines(self, containing: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if containing in line]


@contextmanager
def running_gunicorn(
    env: dict[str, str], log: Path, workers: int = 2, inherit: bool = True, application: str = "config.wsgi:application"
) -> Iterator[Gunicorn]:
    """The app served by real gunicorn with the bundle's gunicorn.conf.py, on a free port; stopped
    gracefully (SIGTERM: each worker finishes its requests and flushes its Sentry queue).
    `env` is added to this process's environment, or with `inherit=False` is the whole of it.
    `application` replaces the bundle's WSGI application (benchmarks compare it with Django's own)."""
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", application],
            cwd=REPO / "app",
            env={
                **(os.environ if inherit else {}),
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": str(workers),
                **env,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, what=f"gunicorn (log: {log})")
        yield Gunicorn(f"http://127.0.0.1:{port}", log, process)
    finally:
        stop(process, timeout=30)
