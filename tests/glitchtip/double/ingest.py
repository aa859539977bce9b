"""The way in: `/api/{project_id}/envelope/`, where every Sentry SDK sends, and the worker behind it.

The endpoint only checks the DSN key and queues the events and transactions it accepts (other items are read
and dropped); the worker stores them once `delay` has passed, as GlitchTip's Celery worker does ~2 s later.
A well-formed key that is not the project's blocks that project id for `block_seconds` (GlitchTip caches the
rejection): every ingest request to it is refused meanwhile, even with the right key (as recorded: 30 s).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.harness.http_fake import Request, Response
from tests.harness.sentry_receiver import parse_envelope

from . import wire
from .events import event_id_hex, interpret, parse_time
from .state import Issue, IssueEvent, Project, State, TransactionGroup, find


@dataclass
class Pending:
    """An accepted event or transaction, waiting for the worker."""

    kind: str
    project: Project
    payload: dict
    received: datetime
    due: datetime


class Ingestion:
    def __init__(self, state: State, clock: Callable[[], datetime], delay: float, block_seconds: float = 30.0):
        self.state = state
        self.clock = clock
        self.delay = timedelta(seconds=delay)
        self.block_seconds = block_seconds
        self.pending: list[Pending] = []
        self.blocked_until: dict[int, datetime] = {}
        self.drop_rules: list[Callable[[dict], bool]] = []

    def envelope(self, request: Request, project_id: str) -> Response:
        """A plain Django view: JSON without a charset, every rejection a 403."""
        project = self.authenticate(request, int(project_id))
        try:
            header, items = parse_envelope(request.body)
            event_id = uuid.UUID(header["event_id"]).hex if header.get("event_id") else None
        except (ValueError, TypeError, AttributeError):
            return wire.plain_json(400, {"detail": "Invalid envelope"})
        for item in items:
            if item.type in ("event", "transaction") and isinstance(item.payload, dict):
                self._accept(item.type, project, item.payload, event_id)
        return wire.plain_json(200, {"id": event_id} if event_id else {})

    def authenticate(self, request: Request, project_id: int) -> Project:
        """The project the DSN key in X-Sentry-Auth opens, checked as GlitchTip's get_project does."""
        header = request.headers.get("x-sentry-auth", "").partition(" ")[2]
        fields = dict(part.strip().partition("=")[::2] for part in header.split(","))
        key = fields.get("sentry_key", fields.get("glitchtip_key"))
        try:
            public_key = uuid.UUID(key) if key else None
        except ValueError:
            raise wire.Reply(wire.plain_json(403, {"detail": "Invalid DSN"})) from None  # no block
        now, denied = self.clock(), wire.Reply(wire.plain_json(403, {"detail": "Denied"}))
        if public_key is None or self.blocked_until.get(project_id, now) > now:
            raise denied
        project = find(self.state.projects, id=project_id)
        if project is None or project.public_key != public_key:
            self.blocked_until[project_id] = now + timedelta(seconds=self.block_seconds)
            raise denied
        return project

    def _accept(self, kind: str, project: Project, payload: dict, envelope_event_id: str | None) -> None:
        if any(rule(payload) for rule in self.drop_rules):
            return
        event_id = event_id_hex(payload.get("event_id")) or envelope_event_id or uuid.uuid4().hex
        received = self.clock()
        self.pending.append(Pending(kind, project, {**payload, "event_id": event_id}, received, received + self.delay))

    # ---- the worker -----------------------------------------------------------------------
    def process_due(self) -> None:
        """Store every accepted item whose delay has passed, as of the moment it became due."""
        now = self.clock()
        for item in [item for item in self.pending if item.due <= now]:
            self.pending.remove(item)
            item.project.first_event = item.project.first_event or item.due
            if release := item.payload.get("release"):
                self.state.link_release(item.project, str(release), created=item.due, released=None)
            (self._store_event if item.kind == "event" else self._store_transaction)(item)

    def _store_event(self, item: Pending) -> None:
        grouping, found = interpret(item.payload)
        issue = find(self.state.issues, project=item.project, grouping=grouping)
        if issue is None:
            issue = Issue(self.state.next_id("issue"), item.project, grouping, found["title"])
            self.state.issues.append(issue)
        timestamp = parse_time(item.payload.get("timestamp"), item.received)
        event = IssueEvent(item.payload["event_id"], issue, timestamp=timestamp, received=item.received, **found)
        self.state.events.append(event)

    def _store_transaction(self, item: Pending) -> None:
        payload = item.payload
        trace = (payload.get("contexts") or {}).get("trace")
        if not isinstance(trace, dict) or "transaction" not in payload:
            return  # GlitchTip's schema rejects it
        method = (payload.get("request") or {}).get("method") or ""
        key = {"transaction": str(payload["transaction"]), "op": str(trace.get("op", "")), "method": method}
        group = find(self.state.transaction_groups, project=item.project, **key)
        if group is None:
            group = TransactionGroup(self.state.next_id("transaction_group"), item.project, created=item.due, **key)
            self.state.transaction_groups.append(group)
        start, end = (parse_time(payload.get(name), item.received) for name in ("start_timestamp", "timestamp"))
        group.durations_ms.append((end - start).total_seconds() * 1000)
