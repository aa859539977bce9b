"""The app served by real gunicorn with the bundle's app/gunicorn.conf.py, on a free loopback port."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.processes import REPO, free_port, stop, wait_for_port


@dataclass
class Gunicorn:
    url: str
    log: Path
    process: subprocess.Popen

    def __str__(self):
        return self.url

    def log_line(self, containing: str, timeout: float = 10.0) -> str:
        """The first log line with `containing`, waiting for it (gunicorn logs just after responding)."""
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
def running_gunicorn(env: dict[str, str], log: Path, workers: int = 2):
    """gunicorn with the test environment (os.environ) plus `env`; stopped (SIGTERM, graceful) on exit."""
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
            cwd=REPO / "app",
            env={**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers), **env},
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, what=f"gunicorn (log: {log})")
        yield Gunicorn(f"http://127.0.0.1:{port}", log, process)
    finally:
        stop(process, timeout=30)
