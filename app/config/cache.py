"""The cache the abuse limits count in (login failures, rate limits): Redis, failing open.

django-axes and django-ratelimit ask the cache at every log-in, password check, reset request
and place search, so with Redis away each of those was a 500. Here an operation that fails
answers as an empty cache would: nothing is counted, nobody is throttled, and log-in keeps
working. Each process logs one WARNING when Redis stops answering and one INFO line when it
answers again. After a failure Redis is not asked again for RETRY_AFTER seconds: a hung Redis
holds up one operation a second for its socket timeout (settings.REDIS_OPTIONS), not every one.

The "default" cache stays the plain RedisCache: /readyz must see Redis fail (config/health.py).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_AFTER = 1.0


class Outage:
    """Whether the Redis at one address is away, for the whole process: Django makes a cache object per
    thread, and the process must log one WARNING per outage, not one per thread."""

    def __init__(self, where: str):
        self.where = where
        self.lock = threading.Lock()
        self.since: float | None = None
        self.retry_at = 0.0

    def skipping(self) -> bool:
        return self.since is not None and time.monotonic() < self.retry_at

    def failed(self, exc: RedisError) -> None:
        with self.lock:
            self.retry_at = time.monotonic() + RETRY_AFTER
            if self.since is None:
                self.since = time.monotonic()
                logger.warning(
                    "cannot reach the cache at %s (%s: %s): log-in throttling and rate limits are off "
                    "until it answers again",
                    self.where,
                    type(exc).__name__,
                    exc,
                )

    def answered(self) -> None:
        if self.since is None:
            return
        with self.lock:
            if self.since is None:
                return
            seconds = time.monotonic() - self.since
            self.since = None
        logger.info("the cache at %s answers again after %.0f s: the limits count again", self.where, seconds)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        # Where, for the log lines: host, port and database, never the password a URL may carry.
        servers = re.split("[;,]", server) if isinstance(server, str) else server  # as RedisCache reads LOCATION
        where = ", ".join(f"{url.hostname}:{url.port or 6379}{url.path}" for url in map(urlsplit, servers))
        with _outages_lock:
            self.outage = _outages.setdefault(where, Outage(where))

    def _fail_open(self, operation, empty, *args):
        """operation(*args), or `empty` (what an empty cache answers) when Redis fails or failed just now."""
        if self.outage.skipping():
            return empty
        try:
            result = operation(*args)
        except RedisError as exc:
            self.outage.failed(exc)
            return empty
        self.outage.answered()
        return result

    # Each of Django's cache operations, answering as an empty cache while Redis fails. `add` says
    # it stored the value, so that django-axes and django-ratelimit count 1 and go on.
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._fail_open(super().add, True, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._fail_open(super().get, default, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._fail_open(super().set, None, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._fail_open(super().touch, False, key, timeout, version)

    def delete(self, key, version=None):
        return self._fail_open(super().delete, False, key, version)

    def get_many(self, keys, version=None):
        return self._fail_open(super().get_many, {}, keys, version)

    def has_key(self, key, version=None):
        return self._fail_open(super().has_key, False, key, version)

    def incr(self, key, delta=1, version=None):
        return self._fail_open(super().incr, delta, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._fail_open(super().set_many, [], data, timeout, version)

    def delete_many(self, keys, version=None):
        self._fail_open(super().delete_many, None, keys, version)

    def clear(self):
        return self._fail_open(super().clear, False)
