"""A benchmark's system under test in a process of its own, driven over a pipe (bench/jobs.py).

Each worker runs one app on one database: this app on PostgreSQL, this app on SQLite, or the
origin app on SQLite, each under its own Django settings (a process can set Django up once).
The parent sends one JSON command a line on the worker's stdin; the worker answers one JSON line
on the protocol file descriptor it was given: the seconds the task took, timed inside the worker,
or the error. What the worker itself prints (Django, the app's logs) goes to a log file, named
when the worker fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path


class Worker:
    """The parent's side: start the worker, `run` its tasks, `close` it."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path):
        """Starts the worker; it sets itself up meanwhile (`wait_ready`)."""
        self.name, self.log = name, log
        read, write = os.pipe()
        with open(log, "w") as output:
            self.process = subprocess.Popen(
                [*command, str(write)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write,),
                text=True,
            )
        os.close(write)
        self.answers = os.fdopen(read)
        print(f"{name}: setting up (log: {log})", flush=True)

    def wait_ready(self) -> dict:
        """What the worker says once it is set up."""
        ready = self._answer()
        print(f"{self.name}: ready, {ready}", flush=True)
        return ready

    def run(self, task: str, **arguments) -> float:
        """Seconds the worker took for `task`."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"task": task, **arguments}) + "\n")
        self.process.stdin.flush()
        return self._answer()["seconds"]

    def _answer(self) -> dict:
        line = self.answers.readline()
        if not line:
            self.process.wait(timeout=60)
            raise RuntimeError(f"{self.name} stopped (exit {self.process.returncode}); its log: {self.log}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.name}: {answer['error']} (log: {self.log})")
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.answers.close()


def serve(tasks: dict[str, Callable[..., object]], ready: dict) -> None:
    """The worker's side: answer `ready`, then time each task asked for until stdin closes."""
    answers = os.fdopen(int(sys.argv[-1]), "w")

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    answer(ready)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            task = tasks[command.pop("task")]
            started = time.perf_counter()
            task(**command)
            answer({"seconds": time.perf_counter() - started})
        except Exception as exc:  # the parent says which task failed and where the log is
            traceback.print_exc()
            answer({"error": f"{exc.__class__.__name__}: {exc}"})
