"""The outage watcher's two checks, each made the way its user makes it.

- The database: a new connection, logged in as the app with its DATABASE_URL, within the
  timeout. A finished start-up means the server accepts the app's log-in; no query follows (one
  could hang past the connect timeout, and the connection is all the app needs first).
- GlitchTip: its event intake, as the app's SDK delivers events: a POST to the envelope endpoint
  of the in-network DSN (SENTRY_DSN) holding only a client report, which GlitchTip accepts and
  drops (recorded: tests/glitchtip/contract/exchanges/38). GlitchTip looks the DSN's key up in
  its database for every envelope (apps/event_ingest/authentication.py, get_project), so this
  fails when GlitchTip cannot take the app's errors: its web process down, or its database.
  /_health/ would not: it answers without touching the database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import requests
from django.db import connections
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.utils import Dsn

# GlitchTip answers 429 when it throttles a project: it is up and reading its database.
ANSWERING = {200, 429}


class CheckFailed(Exception):
    """The check did not pass; the message says what was seen."""


@dataclass(frozen=True)
class Check:
    name: str  # as the e-mails name it
    where: str  # what is checked, without credentials
    impact: str  # what the failure means to users, for the e-mail
    run: Callable[[], None]  # returns when it passes, raises CheckFailed when not


def database(timeout: int) -> Check:
    """The app's database (settings.DATABASES["default"], from DATABASE_URL), as the app connects to it."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        raise ValueError(
            f"DATABASE_URL names a {connection.vendor} database; the watcher checks Postgres "
            "(postgres://user:password@host:5432/name)"
        )
    # Django's own connection parameters (host, port, TLS options...), with a timeout for the start-up.
    params = {**connection.get_connection_params(), "connect_timeout": timeout}
    where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params['dbname']}"

    def run() -> None:
        try:
            psycopg.connect(**params).close()
        except psycopg.Error as exc:
            raise CheckFailed(first_line(str(exc))) from None

    return Check(
        "the database",
        where,
        "The app cannot serve its pages that need the database, and the scheduled jobs fail.",
        run,
    )


def glitchtip(dsn: str, timeout: int) -> Check:
    """GlitchTip's event intake for the project of `dsn` (the app's in-network SENTRY_DSN)."""
    auth = Dsn(dsn).to_auth(client="migraine-forecast-outage-watcher/1")
    url = auth.get_api_url()
    headers = {"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": auth.to_header()}

    def run() -> None:
        report = {"timestamp": time.time(), "discarded_events": []}
        body = Envelope(items=[Item(PayloadRef(json=report), type="client_report")]).serialize()
        try:
            response = requests.post(url, data=body, headers=headers, timeout=timeout)
        except requests.Timeout:
            raise CheckFailed(f"no answer within {timeout} s") from None
        except requests.RequestException as exc:
            raise CheckFailed(connection_problem(exc)) from None
        if response.status_code not in ANSWERING:
            raise CheckFailed(f"answered HTTP {response.status_code} {response.reason}".rstrip())

    return Check(
        "GlitchTip",
        url,
        "GlitchTip cannot store the app's errors (they are lost), and it sends no "
        "alert e-mails: this one comes from the outage-watcher service.",
        run,
    )


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "failed"


def connection_problem(exc: requests.RequestException) -> str:
    """urllib3's reason without the object repr it starts with ("<...HTTPConnection object at 0x..>: ")."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return "cannot connect: " + re.sub(r"^<[^>]*>: ", "", first_line(str(reason or exc)))
