"""Time for the double: the wall clock by default, a hand-driven clock in tests (a 30 s block in no time)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to, plus a millisecond per reading: two things made one after the
    other never share a timestamp, as with a real clock (GlitchTip orders and pages lists by them)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or utc_now()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=1)
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
