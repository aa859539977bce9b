"""A job runs once at a time, however many schedulers or operators start it: each run holds a
PostgreSQL advisory lock named after the job, and a run that cannot take it skips and says who
holds it.

Why: under Docker Swarm, when a node drops or is cut off from the managers, Swarm starts the
scheduler on another node while the old one may still be running; an operator may also start a
job by hand while the scheduler runs it. Two runs at once would fetch twice and could e-mail a
prediction twice.

The lock is session-level, on the run's own database connection (transactions inside the run
commit and roll back without releasing it). It is released when the run ends, whatever the
outcome, and by the server when the process or its connection dies (a node lost: once the server
notices the connection is gone). Runs one after the other are fine: the jobs are idempotent.
It needs a real session: behind a pooler in transaction mode (PgBouncer's pool_mode=transaction)
an advisory lock is not held by the run, so point the jobs' DATABASE_URL at Postgres itself or a
session pool.

SQLite (the embedded default: the app alone, one machine) has no advisory locks: there a job runs
without one, so run a single scheduler.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

NAMESPACE = "migraine-forecast.job"


@dataclass(frozen=True)
class Lock:
    held: bool  # False: another run holds it, and this one must not work
    holder: str = ""  # who holds it, when this run could not take it


def lock_key(job: str) -> int:
    """The job's advisory lock key: a signed 64-bit number derived from its name, the same in every
    process and release (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(f"{NAMESPACE}:{job}".encode()).digest()[:8], "big", signed=True)


def runner_name(job: str) -> str:
    """Shown to a run that finds the lock taken: the job, where it runs (under Docker the host name is
    the container's id) and since when."""
    since = datetime.now(UTC).strftime("%H:%M:%SZ")
    # 63 characters: Postgres's limit for application_name.
    return f"{job} on {socket.gethostname()} pid {os.getpid()} since {since}"[:63]


@contextmanager
def exclusive(job: str) -> Iterator[Lock]:
    """Hold the job's lock for the block, if no other run holds it. On a database without advisory
    locks (SQLite) the block runs with `held` True and no lock."""
    if connection.vendor != "postgresql":
        yield Lock(held=True)
        return
    key = lock_key(job)
    with connection.cursor() as cursor:
        # One statement: take the lock and, if taken, name the session after this run while it holds it
        # (so that a run finding it taken can say who holds it), keeping the name it had before.
        cursor.execute(
            "SELECT taken, name_before, CASE WHEN taken THEN set_config('application_name', %s, false) END "
            "FROM (SELECT pg_try_advisory_lock(%s) AS taken, "
            "current_setting('application_name') AS name_before) AS attempt",
            [runner_name(job), key],
        )
        taken, name_before, _ = cursor.fetchone()
        if not taken:
            yield Lock(held=False, holder=holder(cursor, key))
            return
    try:
        yield Lock(held=True)
    finally:
        release(key, name_before)


def release(key: int, name_before: str) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s), set_config('application_name', %s, false)", [key, name_before]
            )
    except DatabaseError as exc:
        # The connection is gone, and the server released the lock with it.
        logger.warning(
            "job lock %s not released by this run (the server releases it with the connection): %s", key, exc
        )


def holder(cursor, key: int) -> str:
    """Who holds the lock `key`: the run's name (runner_name) and its server process."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    # pg_locks shows a bigint key as its high and low 32 bits (classid, objid) with objsubid 1.
    cursor.execute(
        "SELECT a.application_name, a.pid "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = %s AND l.objid = %s "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [unsigned >> 32, unsigned & 0xFFFF_FFFF],
    )
    row = cursor.fetchone()
    if row is None:  # released between the two statements, or not visible to this role
        return "another run"
    name, pid = row
    return f"{name or 'a session without a name'} (Postgres server process {pid})"
