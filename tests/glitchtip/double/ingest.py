"""The ingest endpoints, `/api/{project_id}/envelope/` and `/api/{project_id}/store/`.

They only check the DSN key and queue what they accept; the worker (processing.py) stores it
once `delay` has passed, as GlitchTip's Celery worker does ~2 s later. A well-formed key that
does not belong to the project blocks that project id for `block_seconds` (GlitchTip caches
the rejection): every ingest request to it is refused meanwhile, even with the right key.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from tests.harness.http_fake import Request, Response
from tests.harness.sentry_receiver import parse_envelope

from . import wire
from .interpret import event_id_hex
from .state import Project, State

STORED_ITEMS = ("event", "transaction")
# Item types GlitchTip reads and throws away; any other type stops the reading of the envelope.
IGNORED_ITEMS = ("log", "session", "sessions", "client_report", "attachment", "user_report", "check_in",
                 "profile", "replay_recording", "replay_event", "span")


class Rejection(Enum):
    MISSING = "no key"
    MALFORMED = "not a UUID"
    DENIED = "wrong key, or project blocked"


# The envelope view is plain Django and answers every rejection with 403; /store/ is a
# django-ninja endpoint whose auth errors are 401 and validation errors 422.
ENVELOPE_REJECTIONS = {
    Rejection.MISSING: (403, {"detail": "Denied"}),
    Rejection.MALFORMED: (403, {"detail": "Invalid DSN"}),
    Rejection.DENIED: (403, {"detail": "Denied"}),
}
STORE_REJECTIONS = {
    Rejection.MISSING: (401, {"detail": "Unable to find authentication information"}),
    Rejection.MALFORMED: (422, {"detail": [{"message": "dsn key badly formed hexadecimal UUID string"}]}),
    Rejection.DENIED: (401, {"detail": "Invalid DSN"}),
}


class Rejected(Exception):
    def __init__(self, reason: Rejection):
        super().__init__(reason.value)
        self.reason = reason


@dataclass
class Pending:
    """An accepted event or transaction, waiting for the worker."""
    kind: str
    project: Project
    payload: dict
    received: datetime
    due: datetime


class Ingestion:
    def __init__(self, state: State, clock: Callable[[], datetime], delay: float, block_seconds: float):
        self.state = state
        self.clock = clock
        self.delay = delay
        self.block_seconds = block_seconds
        self.pending: list[Pending] = []
        self.blocked_until: dict[int, datetime] = {}
        self.seen_event_ids: set[str] = set()
        self.drop_rules: list[Callable[[dict], bool]] = []

    def envelope(self, request: Request, project_id: str) -> Response:
        if request.method != "POST":
            return wire.plain_json(405, {"detail": "Method not allowed"})
        try:
            project = self.authenticate(request, int(project_id))
        except Rejected as rejected:
            return wire.plain_json(*ENVELOPE_REJECTIONS[rejected.reason])
        if not request.body.strip():
            return wire.plain_json(400, {"detail": "Empty request body"})
        try:
            header = json.loads(request.body.partition(b"\n")[0])
            header_event_id = uuid.UUID(header["event_id"]).hex if header.get("event_id") else None
        except (ValueError, TypeError, AttributeError):
            return wire.plain_json(400, {"detail": "Invalid envelope header"})
        try:
            _, items = parse_envelope(request.body)
        except ValueError:
            items = []  # a broken item line: GlitchTip stops reading there (here: drops all items)
        for item in items:
            if item.type not in STORED_ITEMS + IGNORED_ITEMS:
                break
            if item.type in STORED_ITEMS and isinstance(item.payload, dict):
                self._accept(item.type, project, item.payload, header_event_id)
        return wire.plain_json(200, {"id": header_event_id} if header_event_id else {})

    def store(self, request: Request, project_id: str) -> Response:
        try:
            project = self.authenticate(request, int(project_id))
        except Rejected as rejected:
            return wire.ninja(*STORE_REJECTIONS[rejected.reason])
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise wire.detail(400, "Cannot parse request body") from None
        event_id = event_id_hex(payload.get("event_id") if isinstance(payload, dict) else None)
        if event_id is None:
            raise wire.invalid("body", "event_id", "missing", "Field required")
        self._accept("event", project, payload, event_id)
        return wire.ninja(200, {"event_id": event_id, "task_id": None})

    def authenticate(self, request: Request, project_id: int) -> Project:
        """The project the request's DSN key opens, checked as GlitchTip's get_project does."""
        key = _sentry_key(request)
        if key is None:
            raise Rejected(Rejection.MISSING)
        try:
            public_key = uuid.UUID(key)
        except ValueError:
            raise Rejected(Rejection.MALFORMED) from None
        now = self.clock()
        if self.blocked_until.get(project_id, now) > now:
            raise Rejected(Rejection.DENIED)
        project = self.state.project_by_id(project_id)
        if project is None or all(key.public_key != public_key for key in self.state.keys_of(project)):
            self.blocked_until[project_id] = now + timedelta(seconds=self.block_seconds)
            raise Rejected(Rejection.DENIED)
        return project

    def take_due(self) -> list[Pending]:
        """The accepted items whose processing delay has passed, oldest first."""
        now = self.clock()
        due = [item for item in self.pending if item.due <= now]
        self.pending = [item for item in self.pending if item.due > now]
        return due

    def _accept(self, kind: str, project: Project, payload: dict, fallback_event_id: str | None) -> None:
        event_id = event_id_hex(payload.get("event_id")) or fallback_event_id or uuid.uuid4().hex
        if event_id in self.seen_event_ids:
            return  # GlitchTip drops a repeated event id silently
        self.seen_event_ids.add(event_id)
        if any(rule(payload) for rule in self.drop_rules):
            return
        received = self.clock()
        self.pending.append(Pending(kind, project, {**payload, "event_id": event_id}, received,
                                    received + timedelta(seconds=self.delay)))


def _sentry_key(request: Request) -> str | None:
    """The DSN key from X-Sentry-Auth, as the SDKs send it (GlitchTip also reads ?sentry_key=)."""
    header = request.headers.get("x-sentry-auth")
    if not header:
        return None
    try:  # sentry.utils.auth.parse_auth_header
        fields = dict(part.strip().split("=", 1) for part in header.split(" ", 1)[1].split(","))
    except (IndexError, ValueError):
        return None
    return fields.get("sentry_key", fields.get("glitchtip_key"))
