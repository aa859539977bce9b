"""Time for the double: the wall clock by default, a hand-driven clock in tests.

The double asks its clock for "now" whenever time matters (timestamps, the ingestion delay,
the 30 s block), so a test can run a 30 s block in microseconds.
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to, plus a small tick per reading.

    The tick keeps two things created one after the other from sharing a timestamp, as with a
    real clock; GlitchTip orders (and pages) lists by such timestamps.
    """

    def __init__(self, start: datetime | None = None, tick: timedelta = timedelta(milliseconds=1)):
        self._now = start or utc_now()
        self._tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += self._tick
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
