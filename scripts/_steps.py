"""Numbered steps with one line of progress each, and failures that say what to fix."""

from __future__ import annotations

import sys
from contextlib import contextmanager


class StepFailed(Exception):
    """A step that cannot go on; `code` is the script's exit status for it."""

    def __init__(self, code: int, problem: str, fix: str):
        super().__init__(problem)
        self.code = code
        self.problem = problem
        self.fix = fix


class Steps:
    def __init__(self, script: str, total: int, indent: str = ""):
        self.script = script
        self.total = total
        self.number = 0
        # Steps of a step (e.g. the backup that a restore takes first) are indented under it.
        self.indent = indent

    @contextmanager
    def step(self, title: str):
        """Print "[n/total] title ... result": the block yields a dict whose "result" it fills in."""
        self.number += 1
        outcome = {"result": "ok"}
        print(f"{self.indent}[{self.number}/{self.total}] {title} ...", end=" ", flush=True)
        try:
            yield outcome
        except StepFailed:
            print("FAILED", flush=True)
            raise
        print(outcome["result"], flush=True)

    def fail(self, error: StepFailed) -> int:
        print(f"{self.script}: {error.problem}\n  Fix: {error.fix}", file=sys.stderr)
        return error.code
