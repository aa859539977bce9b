"""What failed since when, and which e-mail is due: one when an outage has lasted long enough, one when it is over.

An outage begins when a check has failed at every round for `alert_after`. Its e-mail names
every check failing at that moment (in a Postgres outage the database and GlitchTip fail
together: one e-mail). While it lasts nothing more is sent, unless another check passes the
threshold too ("also down"). When every check named so far passes again, the "resolved"
e-mail goes, and the next failure starts a new outage. A failure shorter than `alert_after`
(a restart, a redeploy) mails nobody. An e-mail that could not be sent stays due: the next
round tries again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum


@dataclass(frozen=True)
class Target:
    """One check's state."""

    name: str
    failing_since: datetime | None = None  # first failed round of the current failure
    reason: str = ""  # what the last failed round saw
    down_from: datetime | None = None  # set once an e-mail named it: the outage's first failed round
    back_at: datetime | None = None  # during an outage that was mailed: when it passed again

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    @property
    def mailed(self) -> bool:
        return self.down_from is not None


class Kind(Enum):
    DOWN = "down"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Notice:
    """A due e-mail: `targets` as they were when it fell due; `new` the names it announces as down."""

    kind: Kind
    at: datetime
    targets: tuple[Target, ...]
    new: tuple[str, ...] = ()


class Change(Enum):
    """What a round changed for one target, for the log."""

    FAILING = "failing"
    BACK = "back"


class Watch:
    def __init__(self, names: list[str], alert_after: timedelta):
        self.alert_after = alert_after
        self.targets = {name: Target(name) for name in names}

    def record(self, name: str, reason: str | None, now: datetime) -> Change | None:
        """One check's result at `now`: None when it passed, else what it saw."""
        target = self.targets[name]
        if reason is None:
            self.targets[name] = replace(
                target, failing_since=None, reason="", back_at=target.back_at or (now if target.mailed else None)
            )
            return Change.BACK if target.failing else None
        self.targets[name] = replace(target, failing_since=target.failing_since or now, reason=reason, back_at=None)
        return None if target.failing else Change.FAILING

    def due(self, now: datetime) -> Notice | None:
        targets = tuple(self.targets.values())
        unmailed = [t for t in targets if t.failing and not t.mailed]
        if any(now - t.failing_since >= self.alert_after for t in unmailed if t.failing_since):
            # Every failing check goes into this one e-mail, also those not yet past the threshold.
            return Notice(Kind.DOWN, now, targets, tuple(t.name for t in unmailed))
        mailed = [t for t in targets if t.mailed]
        if mailed and not any(t.failing for t in mailed):
            return Notice(Kind.RESOLVED, now, targets)
        return None

    def sent(self, notice: Notice) -> None:
        """The notice's e-mail went out: remember it, so that it is not sent again."""
        for name, target in self.targets.items():
            if notice.kind is Kind.DOWN and name in notice.new:
                self.targets[name] = replace(target, down_from=target.failing_since)
            elif notice.kind is Kind.RESOLVED and target.mailed:
                self.targets[name] = replace(target, down_from=None, back_at=None)

    def failing(self) -> list[Target]:
        return [t for t in self.targets.values() if t.failing]
