"""The one place that sets up Sentry (sent to the bundled GlitchTip). Nothing else calls sentry_sdk.init.

What is sent: errors (exceptions and ERROR log records), messages, and performance transactions
with their spans. What GlitchTip keeps: errors, messages and transactions. It accepts profiles,
sessions, cron check-ins and log items with a 200 and then drops them, so session tracking and the
SDK's log items are off here, and cron health goes to GlitchTip heartbeat monitors instead
(forecast/jobs.py). Profiles follow SENTRY_PROFILES_SAMPLE_RATE for a Sentry-compatible server
that stores them; GlitchTip discards them.

What never leaves the process: passwords, tokens, API keys (the LLM key included), cookies,
Authorization headers, the secret values configured in settings, and, unless
SENTRY_SEND_DEFAULT_PII is true, e-mail addresses and IP addresses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sentry_sdk
from django.core.signals import request_finished, request_started
from marshmallow import ValidationError
from marshmallow.validate import Range
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber
from sentry_sdk.types import Event, Hint
from sentry_sdk.utils import BadDsn, Dsn

from config.health import READINESS_PATH
from config.sentry_transport import QUEUE_SIZE, GlitchTipTransport

logger = logging.getLogger(__name__)

FILTERED = "[Filtered]"

# Keys whose values are always removed, wherever they appear in an event (matched case-insensitively).
DENYLIST = DEFAULT_DENYLIST + [
    "llm_api_key",
    "access_token",
    "refresh_token",
    "secret_key",
    "django_secret_key",
    "dsn",
    "sentry_dsn",
    "database_url",
    "email_url",
    "email_host_password",
    "x_sentry_auth",
    "proxy_authorization",
]
# Removed unless PII is allowed.
PII_DENYLIST = DEFAULT_PII_DENYLIST + ["email", "email_address", "recipient", "remote_addr"]

# Paths that would only add noise to performance data. /healthz and the collected static files
# never reach Django (config/wsgi.py); static files do under `runserver` with DEBUG.
UNTRACED_PATHS = (READINESS_PATH,)
UNTRACED_PREFIXES = ("/static/",)

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
BEARER_RE = re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
URL_PASSWORD_RE = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")
# "password=..." and the like inside free text (log messages, exception messages).
KEY_VALUE_RE = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;]+)"
)
# What each pattern above needs to match at all, in lower case (each Scrubber adds its secret
# values). Most strings of an event (SQL, span names, module names) hold none of it: one search
# of the lower-cased string then replaces the substitutions. Searched case-sensitively on purpose:
# a case-insensitive alternation takes Python's re module ten times as long on a long SQL query.
MAY_MATCH = r"@|bearer|token|basic|passw|pwd|secret|api[_-]?key|authorization"


@dataclass(frozen=True)
class SentryConfig:
    """The Sentry settings of one process, validated."""

    dsn: str = ""
    enabled: bool = True
    environment: str = "development"
    release: str | None = None
    traces_sample_rate: float = 0.0
    profiles_sample_rate: float = 0.0
    send_default_pii: bool = False
    # Literal secret values (API keys, passwords) to cut out of any string in an event.
    secret_values: tuple[str, ...] = field(default=(), repr=False)

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.dsn)

    @classmethod
    def from_env(cls, env) -> SentryConfig:
        """Read the SENTRY_* variables; `env` is the settings' environs.Env (errors are collected there)."""
        rate = Range(min=0.0, max=1.0)
        dsn = env.str("SENTRY_DSN", "", validate=_validate_dsn) or ""
        return cls(
            # https://docs.sentry.io/platforms/python/configuration/options/#dsn
            dsn=dsn,
            # false: the SDK is not even initialised, so nothing is sent.
            enabled=env.bool("SENTRY_ENABLED", True),
            # https://docs.sentry.io/platforms/python/configuration/options/#environment
            environment=env.str("SENTRY_ENVIRONMENT", "development"),
            # https://docs.sentry.io/platforms/python/configuration/options/#release (baked into the image)
            release=env.str("SENTRY_RELEASE", "") or None,
            # https://docs.sentry.io/platforms/python/configuration/options/#traces-sample-rate
            traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", 0.0, validate=rate),
            # https://docs.sentry.io/platforms/python/configuration/options/#profiles-sample-rate
            profiles_sample_rate=env.float("SENTRY_PROFILES_SAMPLE_RATE", 0.0, validate=rate),
            # https://docs.sentry.io/platforms/python/configuration/options/#send-default-pii
            send_default_pii=env.bool("SENTRY_SEND_DEFAULT_PII", False),
            secret_values=tuple(
                v
                for v in (
                    env.str("LLM_API_KEY", ""),
                    env.str("DJANGO_SECRET_KEY", ""),
                    _url_password(env.str("DATABASE_URL", "")),
                    _url_password(env.str("EMAIL_URL", "")),
                    _url_password(env.str("REDIS_URL", "")),
                )
                if v and len(v) >= 4
            ),
        )


def _validate_dsn(value: str) -> None:
    if value:
        try:
            Dsn(value)
        except BadDsn as exc:
            raise ValidationError(f"Not a valid DSN ({exc}); expected http(s)://<key>@<host>/<project id>.") from None


def _url_password(url: str | None) -> str:
    match = URL_PASSWORD_RE.search(url or "")
    return match.group(0)[len(match.group(1)) : -1] if match else ""


class Scrubber:
    """Removes secrets (and PII unless allowed) from events and transactions.

    Breadcrumbs leave the process only inside error events (never with transactions), so they
    are scrubbed there, with the event, rather than one by one as they are recorded: the SDK
    records one for every SQL query of every request, sent or not.
    """

    def __init__(self, config: SentryConfig):
        self.allow_pii = config.send_default_pii
        self.secret_values = sorted(set(config.secret_values), key=len, reverse=True)
        self._may_match = re.compile("|".join([MAY_MATCH, *(re.escape(v.lower()) for v in self.secret_values)])).search
        self.keys = EventScrubber(
            denylist=DENYLIST,
            pii_denylist=PII_DENYLIST,
            recursive=True,
            send_default_pii=config.send_default_pii,
        )

    def event(self, event: Event, hint: Hint | None = None) -> Event:
        # Keys were already scrubbed by `self.keys`, which the SDK runs as its event_scrubber.
        if not self.allow_pii:
            user = event.get("user")
            if isinstance(user, dict):
                for key in ("email", "ip_address"):
                    user.pop(key, None)
        logentry = event.get("logentry")
        if isinstance(logentry, dict) and logentry.get("params"):
            formatted = str(logentry.get("formatted", ""))
            if self.text(formatted) != formatted:
                # A secret was formatted into the message: its raw value is among the params.
                logentry["params"] = []
        return self._values(event)

    def may_match(self, value: str) -> bool:
        return self._may_match(value.lower()) is not None

    def text(self, value: str) -> str:
        return self._substitute(value) if self.may_match(value) else value

    def _substitute(self, value: str) -> str:
        for secret in self.secret_values:
            value = value.replace(secret, FILTERED)
        value = BEARER_RE.sub(lambda m: f"{m.group(1)} {FILTERED}", value)
        value = URL_PASSWORD_RE.sub(lambda m: f"{m.group(1)}{FILTERED}@", value)
        value = KEY_VALUE_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", value)
        if not self.allow_pii:
            value = EMAIL_RE.sub("[email]", value)
        return value

    def _values(self, node: Any) -> Any:
        """Walk the whole structure and clean every string in it (keys are handled above).
        Strings are checked here rather than in a call each: an error event holds hundreds."""
        children: Iterable[tuple[Any, Any]]
        if isinstance(node, dict):
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            return node
        for key, value in children:
            if isinstance(value, str):
                if self.may_match(value):
                    node[key] = self._substitute(value)
            elif isinstance(value, (dict, list)):
                self._values(value)
        return node


def traces_sampler(rate: float):
    def sample(context: dict[str, Any]) -> float:
        if context.get("parent_sampled") is not None:
            return float(context["parent_sampled"])
        path = (context.get("wsgi_environ") or {}).get("PATH_INFO", "")
        if path in UNTRACED_PATHS or path.startswith(UNTRACED_PREFIXES):
            return 0.0
        return rate

    return sample


def init_sentry(config: SentryConfig) -> bool:
    """Initialise the SDK when enabled and a DSN is set; returns whether it is active."""
    if not config.active:
        logger.debug("Sentry is off (SENTRY_ENABLED=%s, DSN set: %s)", config.enabled, bool(config.dsn))
        return False
    scrubber = Scrubber(config)
    # gunicorn's access log: a record for every request (probes and static files too) that the
    # logging integration would turn into a breadcrumb no event ever carries, as gunicorn logs
    # the request after Sentry's scope for it has ended.
    ignore_logger("gunicorn.access")
    # Passed only when true: sentry-sdk 2.75 deprecates the option (even as False) in favour of
    # data_collection, which would switch off our event_scrubber. Unset means False.
    pii: dict[str, Any] = {"send_default_pii": True} if config.send_default_pii else {}
    sentry_sdk.init(
        dsn=config.dsn,
        environment=config.environment,
        release=config.release,
        **pii,
        traces_sampler=traces_sampler(config.traces_sample_rate),
        profiles_sample_rate=config.profiles_sample_rate,
        # Timeouts, retries, queue and outage logging chosen for GlitchTip: see config/sentry_transport.py.
        transport=GlitchTipTransport,
        transport_queue_size=QUEUE_SIZE,
        # How long a process that exits (a recycled gunicorn worker, a finished job) waits for its
        # queue: in-network delivery takes milliseconds; this bounds the wait when GlitchTip hangs.
        shutdown_timeout=1,
        integrations=[
            # The SDK makes its spans for every request, traced or not (a traced one only keeps
            # them), so each kind of span costs every request; bench/serving.py measures it.
            DjangoIntegration(
                transaction_style="url",
                signals_spans=True,
                cache_spans=True,
                # No span per middleware: twelve of the dashboard's 23 spans, about a third of what
                # Sentry adds to a request traced or not, and seldom what explains a slow request
                # (Sentry turned them off in its own Django app: getsentry/sentry#102290). The time
                # they take remains visible before the view's span starts.
                middleware_spans=False,
                # Spans for the app's own signals, not for the receivers Django runs around every
                # request (closing old DB connections, resetting the query log): the same few
                # spans in every transaction.
                signals_denylist=[request_started, request_finished],
            ),
            # ERROR and above become events; INFO and WARNING become breadcrumbs.
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        # GlitchTip drops sessions; don't spend requests on them.
        auto_session_tracking=False,
        # The key-based scrubber runs on every event first, the value scrubber in before_send.
        event_scrubber=scrubber.keys,
        before_send=scrubber.event,
        before_send_transaction=scrubber.event,
        # Request bodies can carry form input; keep them small.
        max_request_body_size="small",
    )
    return True
