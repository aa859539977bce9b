"""Django's PostgreSQL backend, failing at once while the server was just found unreachable.

A server whose node is gone costs every try libpq's connect_timeout (2 s, app/config/settings.py).
Under load that is every thread: requests queue behind them and the site answers nothing, not even
its error page (the data-node drill of deploy/swarm/rehearse: no answer within 10 s). So after a
failed connection each thread of the process fails at once for RETRY_AFTER seconds, with a message
that says so, and the next try after that goes to the server again: one thread in a process waits
for it at a time, the others answer the error page at once.
"""

from __future__ import annotations

import threading
import time

from django.db.backends.postgresql import base
from psycopg import OperationalError

RETRY_AFTER = 2.0  # seconds; as long as one try may take, so at most one thread waits on it


class DatabaseWrapper(base.DatabaseWrapper):
    # Per server (host, port, database): when it may be tried again, and why it failed. Shared by the
    # process's threads.
    _unreachable: dict[tuple, tuple[float, str]] = {}
    _lock = threading.Lock()

    def get_new_connection(self, conn_params):
        server = tuple(sorted((k, str(v)) for k, v in conn_params.items() if k in ("host", "port", "dbname")))
        with self._lock:
            until, reason = self._unreachable.get(server, (0.0, ""))
        if (wait := until - time.monotonic()) > 0:
            raise OperationalError(f"not tried again for {wait:.1f} s, it failed a moment ago: {reason}")
        try:
            return super().get_new_connection(conn_params)
        except OperationalError as exc:
            with self._lock:
                self._unreachable[server] = (time.monotonic() + RETRY_AFTER, str(exc).strip())
            raise
