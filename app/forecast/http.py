"""The HTTP client policy shared by the Open-Meteo and LLM clients: pooled connections, timeouts
and retries with backoff."""

import threading
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)

_sessions: dict[tuple, requests.Session] = {}
_sessions_lock = threading.Lock()


def session(retries: int, backoff: float, *, methods=("GET",), pool_size: int = 1) -> requests.Session:
    """The one session of a client (per retry policy), reused by every call and thread.

    Reusing it keeps connections alive between requests: no TCP (and TLS) handshake per call.
    `pool_size` is how many connections to a host it keeps; make it the client's concurrency,
    or urllib3 opens extra ones and throws them away. Sending through one session from several
    threads is safe for our use (no cookies, no per-request changes to the session).
    """
    key = (retries, backoff, tuple(methods), pool_size)
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = _build_session(retries, backoff, methods, pool_size)
        return _sessions[key]


def _build_session(retries: int, backoff: float, methods, pool_size: int) -> requests.Session:
    """A session that retries connection errors, 429 and 5xx with exponential backoff.

    Retry-After is honoured (capped by backoff_max) so a rate-limited API is not hammered.
    When retries run out, the last response is returned (raise_on_status=False) so the caller
    can report its status and body.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=pool_size)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    http.headers["User-Agent"] = "migraine-forecast/1.0"
    return http


def describe_failure(exc: requests.RequestException) -> str:
    """A short reason for a failed request; urllib3 wraps timeouts in its retry error, so look inside.

    Most specific first: urllib3's NameResolutionError is a NewConnectionError, which in turn is a
    ConnectTimeoutError, so a name that does not resolve would otherwise read "timed out".
    """
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        host = urlsplit(exc.request.url).hostname if exc.request is not None and exc.request.url else None
        return f"DNS lookup failed: the name {host or 'of the host'} does not resolve"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else "could not connect"
    if isinstance(exc, requests.Timeout) or isinstance(reason, urllib3.exceptions.TimeoutError):
        return "timed out"
    if "Connection refused" in str(exc):
        return "connection refused"
    return exc.__class__.__name__
