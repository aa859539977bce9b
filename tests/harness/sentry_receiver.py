"""A Sentry ingest endpoint on loopback that keeps every envelope the SDK sends, for assertions at the wire."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass

from tests.harness.http_fake import FakeHTTPServer, Request, Response

ENVELOPE_PATH = re.compile(r"^/api/(\d+)/envelope/$")
PUBLIC_KEY = "0123456789abcdef0123456789abcdef"


@dataclass
class Item:
    type: str
    headers: dict
    payload: dict | bytes


@dataclass
class Envelope:
    project: str
    headers: dict
    items: list[Item]
    raw: bytes
    auth: str


def parse_envelope(body: bytes, payloads: bool = True) -> tuple[dict, list[Item]]:
    """Sentry's envelope format: a header line, then per item a header line and a payload.

    payloads=False leaves each payload as raw bytes (counting items needs only their headers)."""
    header_line, _, rest = body.partition(b"\n")
    headers = json.loads(header_line)
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_headers = json.loads(item_line)
        length = item_headers.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:].lstrip(b"\n")
        try:
            parsed = json.loads(payload) if payloads else payload
        except ValueError:
            parsed = payload
        items.append(Item(item_headers.get("type", ""), item_headers, parsed))
    return headers, items


class SentryReceiver(FakeHTTPServer):
    """Keeps every envelope; with keep=False (a benchmark's hours of traffic) only counts the items
    per (project, item type) in `counts`."""

    name = "sentry"

    def __init__(self, keep: bool = True, port: int = 0):
        super().__init__(port)
        self.keep = self.record_requests = keep
        self.envelopes: list[Envelope] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        # What the SDKs' client reports say they dropped: (project, category, reason) -> quantity.
        self.discarded: Counter[tuple[str, str, str]] = Counter()
        self.refusal: Response | None = None
        self._arrived = threading.Condition()

    def respond_with(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Refuse every envelope from now on, as Sentry's ingest does: 429 (rate limited, with
        Retry-After or X-Sentry-Rate-Limits), 413 (too large) or 500. `reset()` accepts again."""
        self.refusal = Response(status, {"detail": f"refused with {status} by the test"}, headers or {})

    def dsn(self, project: int = 1) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.port}/{project}"

    def reset(self):
        super().reset()
        self.refusal = None
        with self._arrived:
            self.envelopes.clear()
            self.counts.clear()
            self.discarded.clear()

    def route(self, request: Request) -> Response:
        match = ENVELOPE_PATH.match(request.path)
        if not match or request.method != "POST":
            return Response(404, {"detail": "Not Found"})
        if self.refusal is not None:
            return self.refusal
        headers, items = parse_envelope(request.body, payloads=self.keep)
        with self._arrived:
            self.counts.update((match.group(1), item.type) for item in items)
            for item in items:
                if item.type == "client_report":
                    report = json.loads(item.payload) if isinstance(item.payload, bytes) else item.payload
                    self.discarded.update(
                        {
                            (match.group(1), d["category"], d["reason"]): d["quantity"]
                            for d in report.get("discarded_events", [])
                        }
                    )
            if self.keep:
                self.envelopes.append(
                    Envelope(match.group(1), headers, items, request.body, request.headers.get("x-sentry-auth", ""))
                )
            self._arrived.notify_all()
        return Response(200, {"id": headers["event_id"]} if "event_id" in headers else {})

    # ---- what tests read -------------------------------------------------
    def items(self, kind: str | None = None, project: str | None = None) -> list[dict]:
        with self._arrived:
            return [
                item.payload
                for envelope in self.envelopes
                for item in envelope.items
                if (kind is None or item.type == kind) and (project is None or envelope.project == project)
            ]

    def events(self, project: str | None = None) -> list[dict]:
        """Error and message events."""
        return self.items("event", project)

    def transactions(self, project: str | None = None) -> list[dict]:
        return self.items("transaction", project)

    def wait_for(self, predicate, timeout: float = 10.0, kind: str = "event", project: str | None = None) -> dict:
        """The first item of `kind` matching `predicate`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for envelope in self.envelopes:
                    for item in envelope.items:
                        wanted = item.type == kind and (project is None or envelope.project == project)
                        if wanted and predicate(item.payload):
                            return item.payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [
                        (
                            i.type,
                            (i.payload.get("message") or i.payload.get("transaction") or "")
                            if isinstance(i.payload, dict)
                            else "",
                        )
                        for e in self.envelopes
                        for i in e.items
                    ]
                    raise AssertionError(f"no matching {kind} arrived within {timeout}s; got {seen}")
                self._arrived.wait(remaining)

    def raw_bodies(self) -> bytes:
        with self._arrived:
            return b"\n".join(envelope.raw for envelope in self.envelopes)


def tags(event: dict) -> dict:
    """Tags as a dict, whether the SDK sent them as a dict or as pairs."""
    raw = event.get("tags") or {}
    return dict(raw) if isinstance(raw, list) else raw


def breadcrumbs(event: dict) -> list[dict]:
    crumbs = event.get("breadcrumbs") or {}
    return crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs
