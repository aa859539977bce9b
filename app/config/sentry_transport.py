"""How events travel to GlitchTip: sentry-sdk's HTTP transport plus what no SDK option gives,
chosen for a GlitchTip on the same network: timeouts, no retries, one log line when losses start
and one when they end, and a count of every lost event.

The SDK's options cover the rest and are set in config/sentry.py: the queue
(`transport_queue_size`), how long an exiting process waits for it (`shutdown_timeout`).
sentry-sdk 2.75 (sentry_sdk/transport.py, worker.py) sends from one background thread per
process, one envelope at a time, through a queue of 100. Its defaults, and what they did here:
- a 30 s timeout per envelope (`HttpTransport.TIMEOUT`, no option): a GlitchTip that accepts
  connections and never answers held the sender 30 s per envelope, the queue filled and nearly
  everything else was dropped;
- urllib3's 3 retries of a refused connection (no option), each a WARNING of urllib3's logger:
  with GlitchTip down, 4 attempts and 3 log lines per envelope (11,172 lines in 135 s);
- losses counted only for "client reports", themselves sent to the server that is down (and
  which GlitchTip discards); the SDK's own messages go to a logger silent unless debug=True.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import urllib3
from sentry_sdk.envelope import Item
from sentry_sdk.transport import HttpTransport

logger = logging.getLogger(__name__)

# GlitchTip is on the same Docker network: when it is up, connecting takes well under a
# millisecond. A second means it is gone (a removed container's address answers nothing).
CONNECT_TIMEOUT = 1.0
# Its ingest endpoint validates and queues the event, answering within tens of milliseconds even
# when busy. Five seconds bounds how long a hung GlitchTip holds the sender (30 s before).
READ_TIMEOUT = 5.0
# After a failed attempt, envelopes are dropped (and counted) without trying for this long, then
# the next one tries again: a closed port costs one refused connection a second instead of one
# per envelope, a hung one holds the sender at most READ_TIMEOUT out of every
# READ_TIMEOUT + RETRY_INTERVAL seconds, and a GlitchTip that is back gets events within a second.
RETRY_INTERVAL = 1.0
# Envelopes a process queues for its sender (config/sentry.py passes it as transport_queue_size).
# sentry-sdk's default, chosen here on purpose: in-network delivery takes a few milliseconds, so
# 100 envelopes absorb a burst of errors (1,000 in 10 s over 4 workers is 25 a second each; the
# benchmark's receiver, slowed by a busy machine, still missed a few per cent) while bounding
# what a stalled sender holds in memory.
QUEUE_SIZE = 100
# The SDK's loss reasons (its client-report vocabulary) that mean "not delivered"; the others
# (sample_rate, before_send, ...) are decisions, not losses.
UNDELIVERED = {
    "network_error": "delivery failed",  # no connection, no answer, or an HTTP error status
    "send_error": "too large for GlitchTip",  # 413
    "queue_overflow": "queue full",
    "ratelimit_backoff": "held back by GlitchTip's rate limit",
    "rate_limited": "rate limited by GlitchTip",  # ours: the 429 itself, which the SDK leaves uncounted
}
# Items that are events in their own right (a transaction's spans are counted with it).
COUNTED = {"error", "default", "transaction", "profile", "attachment", "monitor", "log_item"}


class Delivery:
    """What became of one process's envelopes, and the state that keeps the log to one line when
    losses start and one when delivery works again (never a line per envelope)."""

    def __init__(self, target: str):
        self.target = target
        self.delivered: Counter[str] = Counter()  # item category -> items GlitchTip accepted
        self.dropped: Counter[tuple[str, str]] = Counter()  # (category, reason) -> items lost
        self._lock = threading.Lock()
        self._failing_since: float | None = None  # an attempt failed, none has succeeded since
        self._retry_at = 0.0
        self._overflowing = False  # the queue was full, and has not drained since
        self._pending = 0  # envelopes queued and not yet sent or dropped
        self._lost_in_episode = 0
        self.last_failure = ""

    def should_try(self) -> bool:
        return self._failing_since is None or time.monotonic() >= self._retry_at

    def queued(self) -> None:
        with self._lock:
            self._pending += 1

    def finished(self) -> None:
        """An envelope left the queue (sent, refused or dropped)."""
        with self._lock:
            self._pending -= 1
            drained = self._overflowing and self._pending <= 0 and self._failing_since is None
            if drained:
                self._overflowing = False
                lost, self._lost_in_episode = self._lost_in_episode, 0
        if drained:
            logger.warning(
                "Sentry: the event queue has drained; %d events were dropped while it was full "
                "(more events than %s accepts in time).",
                lost,
                self.target,
            )

    def lost(self, category: str, reason: str, quantity: int = 1) -> None:
        if category not in COUNTED or reason not in UNDELIVERED:
            return
        with self._lock:
            self.dropped[category, UNDELIVERED[reason]] += quantity
            self._lost_in_episode += quantity
            starts_overflow = reason == "queue_overflow" and not self._overflowing and self._failing_since is None
            if starts_overflow:
                self._overflowing = True
        if starts_overflow:
            # WARNING at most: an ERROR record would itself become an event (LoggingIntegration).
            logger.warning(
                "Sentry: the event queue (%d envelopes) is full; dropping events until it drains "
                "(%s is not accepting them as fast as they come).",
                QUEUE_SIZE,
                self.target,
            )

    def succeeded(self, categories: list[str]) -> None:
        with self._lock:
            self.delivered.update(c for c in categories if c in COUNTED)
            since, self._failing_since = self._failing_since, None
            if since is not None:
                lost, self._lost_in_episode = self._lost_in_episode, 0
                self._overflowing = False
        if since is not None:
            logger.warning(
                "Sentry: delivering to %s again after %.0f s; %d events were dropped meanwhile.",
                self.target,
                time.monotonic() - since,
                lost,
            )

    def failed(self, why: str, back_off: bool = True) -> None:
        """An attempt failed. back_off=False when the failure says nothing about the next envelope
        (too large) or the SDK already holds envelopes back itself (rate limited)."""
        with self._lock:
            self.last_failure = why
            now = time.monotonic()
            if back_off:
                self._retry_at = now + RETRY_INTERVAL
            starts = self._failing_since is None
            if starts:
                self._failing_since = now
        if starts:
            logger.warning(
                "Sentry: cannot deliver events to %s (%s); dropping them, counted, until it "
                "accepts them again (retrying every %.0f s).",
                self.target,
                why,
                RETRY_INTERVAL,
            )

    @property
    def in_outage(self) -> bool:
        return self._failing_since is not None

    def undelivered(self) -> dict[str, int]:
        """Reason -> items lost so far, over all categories."""
        totals: Counter[str] = Counter()
        for (_, reason), quantity in self.dropped.items():
            totals[reason] += quantity
        return dict(totals)


class Attempt:
    """What the SDK reported, through the hooks below, while the sender handled one envelope."""

    def __init__(self):
        self.unsent: list[Item] = []  # items it dropped: held back by a rate limit, or lost
        self.status: int | None = None  # an HTTP status it treated as a refusal


class GlitchTipTransport(HttpTransport):
    """sentry-sdk's HttpTransport with the choices above; `delivery` says what became of each envelope.

    Two private methods of the SDK are overridden, for what no option or public hook gives: the
    connection pool's timeouts and retries (`_get_pool_options`), and the one place that handles
    a whole envelope on the sender's thread (`_send_envelope`), to skip sending during a back-off
    and to learn each envelope's outcome. The rest goes through the public hooks
    (`capture_envelope`, `record_lost_event`, `on_dropped_event`, `is_healthy`).
    tests/test_library_fences.py fails when an upgrade of sentry-sdk moves either private name.
    """

    def __init__(self, options):
        super().__init__(options)
        dsn = self.parsed_dsn
        assert dsn is not None  # the SDK makes no HTTP transport without a DSN
        self.delivery = Delivery(f"{dsn.scheme}://{dsn.netloc}")
        # The sender's attempt in progress; the hooks are also called from the app's threads.
        self.sending = threading.local()

    def _get_pool_options(self):
        options = super()._get_pool_options()
        options["timeout"] = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
        # No retry: a lost envelope is counted and the next one tries again (after RETRY_INTERVAL),
        # and urllib3 logs nothing per attempt.
        options["retries"] = False
        return options

    def _send_envelope(self, envelope):
        attempt = self.sending.attempt = Attempt()
        try:
            if not self.delivery.should_try():
                for item in envelope.items:
                    self.record_lost_event("network_error", item=item)
                return
            try:
                super()._send_envelope(envelope)
            except Exception as exc:  # the SDK has counted the loss; this says why, once per outage
                self.delivery.failed(_describe(exc))
                return
            unsent = {id(item) for item in attempt.unsent}
            self._outcome(attempt, [item for item in envelope.items if id(item) not in unsent])
        finally:
            self.sending.attempt = None
            self.delivery.finished()

    def _outcome(self, attempt: Attempt, sent: list[Item]) -> None:
        """`sent`: the items that went out in a request that raised nothing."""
        if attempt.status is None:
            if sent:  # none were, when a rate limit held back every item
                self.delivery.succeeded([item.data_category for item in sent])
            return
        if attempt.status == 429:
            # The SDK now holds back what the limit covers (its "ratelimit_backoff") but leaves this
            # envelope to the server's count; for this process it was not delivered either.
            for item in sent:
                self.delivery.lost(item.data_category, "rate_limited")
        self.delivery.failed(f"HTTP {attempt.status}", back_off=attempt.status not in (413, 429))

    def capture_envelope(self, envelope):
        self.delivery.queued()
        super().capture_envelope(envelope)

    def record_lost_event(self, reason, data_category=None, item=None, *, quantity=1):
        if item is not None:
            self.delivery.lost(item.data_category, reason)
            attempt = getattr(self.sending, "attempt", None)
            if attempt is not None:
                attempt.unsent.append(item)
        elif data_category is not None:
            self.delivery.lost(data_category, reason, quantity)
        super().record_lost_event(reason, data_category, item, quantity=quantity)

    def on_dropped_event(self, reason):
        if reason == "full_queue":  # capture_envelope found the queue full: this one never entered it
            self.delivery.finished()
        elif reason.startswith("status_"):  # the SDK's name for a refusal: "status_413", "status_500"...
            attempt = getattr(self.sending, "attempt", None)
            if attempt is not None:
                attempt.status = int(reason.removeprefix("status_"))

    def is_healthy(self) -> bool:
        # During an outage the SDK's backpressure monitor then halves the traces sample rate every
        # 10 s (down to 1/1024), so that transactions nobody can receive cost less.
        return super().is_healthy() and not self.delivery.in_outage


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    # NewConnectionError first: urllib3 makes it a subclass of ConnectTimeoutError.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return f"connection failed: {reason.__cause__ or reason}"
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection within {CONNECT_TIMEOUT:.0f} s"
    if isinstance(reason, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return f"no answer within {READ_TIMEOUT:.0f} s"
    return f"{type(reason).__name__}: {reason}"
