"""Progress and refusals of backup and restore: a line per step, the failure with its exit status and
fix, and the backup's own check that both sides of a restore run first. Self-contained, as the
backup image holds this package only (no scripts/_steps.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from scripts.backups import archive, data

T = TypeVar("T")


class Failed(Exception):
    """What stops a backup or a restore: its exit status, the problem, and what to do about it."""

    def __init__(self, code: int, problem: str, fix: str):
        super().__init__(problem)
        self.code, self.problem, self.fix = code, problem, fix

    def report(self, script: str) -> int:
        print(f"{script}: {self.problem}\n  Fix: {self.fix}", file=sys.stderr)
        return self.code


def step(title: str, action: Callable[[], T], said: Callable[[T], str] = str) -> T:
    """One line of progress: the title at once, then what `said` makes of the action's result."""
    print(f"{title} ...", end=" ", flush=True)
    try:
        value = action()
    except BaseException:
        print("FAILED", flush=True)
        raise
    print(said(value), flush=True)
    return value


def check_backup(folder: Path) -> dict:
    """The manifest of an intact backup (every file against SHA256SUMS), or Failed."""
    needed = [database.file for database in data.databases({})] + [archive.UPLOADS]
    try:
        return step(
            f"check the backup {folder}",
            partial(archive.verify, folder, needed),
            lambda found: f"intact: {len(found['files'])} files, started {found.get('started')}",
        )
    except archive.Invalid as error:
        raise Failed(3, error.problem, error.fix) from None
