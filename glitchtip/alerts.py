"""The project alerts the bootstrap keeps in GlitchTip, and who they reach, from the ALERT_* settings.

GlitchTip's model (docs/operations/alerts.md): a project alert fires for an issue that has at
least `quantity` events within the last `timespanMinutes`, each issue at most once per alert
(until it is resolved and reopened); an alert with `uptime` also fires when a monitor of the
project goes down or comes back. Its recipients are chat webhooks (by URL) and "email", which
takes no address: the e-mail goes to the accepted members of the teams that have the project,
minus those who turned the project's alerts off. So ALERT_EMAILS becomes team membership
(bootstrap invites each address), not a field of the alert.

The alerts are known by name; the bootstrap changes only these three and leaves any other alert
alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from glitchtip.client import Alert, Recipient

# A new issue: its first event. The worker looks every 60 s at the issues that got events since
# its last look, counting only events within the timespan: 1 minute could miss an event seen
# 61 s late, so allow 10. Each issue is notified once per alert, so a longer span repeats nothing.
NEW_ISSUE_MINUTES = 10
# GlitchTip stores quantity and timespan in smallint columns: larger values are a 500.
MAX_COUNT = 32767
WEBHOOK_TYPES = ("webhook", "discord", "googlechat")
# Top-level names no mail server outside this machine delivers to (RFC 6761 and friends; the list of
# email-validator, which GlitchTip's invitations use through pydantic's EmailStr).
LOCAL_ONLY_NAMES = {"localhost", "local", "test", "invalid", "arpa", "onion"}


def local_only(address: str) -> bool:
    """An address only this machine delivers to (admin@localhost): a domain without a dot, an address
    literal, or a special-use name. GlitchTip refuses to invite one."""
    domain = address.rsplit("@", 1)[-1]
    return "." not in domain or domain.startswith("[") or domain.rsplit(".", 1)[-1] in LOCAL_ONLY_NAMES


class AlertSettingsError(ValueError):
    """An ALERT_* value that cannot work; `variable` names it."""

    def __init__(self, variable: str, problem: str, fix: str):
        super().__init__(f"{variable} {problem}")
        self.variable = variable
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class AlertSettings:
    emails: tuple[str, ...]
    threshold_events: int
    threshold_minutes: int
    webhook_url: str
    webhook_type: str

    @classmethod
    def from_values(cls, values: dict[str, str]) -> AlertSettings:
        """The ALERT_* values of the merged env-file layers; ALERT_EMAILS empty means the GlitchTip admin.
        An address at localhost (or another local-only domain) passes in development only, where mailpit
        catches every message and the stack's own addresses are @localhost."""
        variable = "ALERT_EMAILS"
        emails = tuple(
            dict.fromkeys(address.strip().lower() for address in values.get(variable, "").split(",") if address.strip())
        )
        if not emails and values.get("GLITCHTIP_ADMIN_EMAIL"):
            variable = "GLITCHTIP_ADMIN_EMAIL"
            emails = (values[variable].strip().lower(),)
        for address in emails:
            try:
                validate_email(address)  # Django's rule, GlitchTip's for its users: admin@localhost passes
            except ValidationError:
                raise AlertSettingsError(
                    variable,
                    f"holds {address!r}, which is not an e-mail address",
                    "list addresses separated by commas, e.g. ops@example.com,dev@example.com",
                ) from None
            if local_only(address) and values.get("APP_ENV") != "development":
                raise AlertSettingsError(
                    variable,
                    f"holds {address!r}: no mail server outside this machine delivers to it",
                    "list addresses people read, e.g. ops@example.com "
                    "(an address at localhost passes in development, where mailpit catches all)",
                )
        webhook_url = values.get("ALERT_WEBHOOK_URL", "").strip()
        if webhook_url and not re.match(r"^https?://[^/\s]+", webhook_url):
            raise AlertSettingsError(
                "ALERT_WEBHOOK_URL",
                "is not an http(s) URL",
                "paste the URL your chat service gives for an incoming webhook, or leave it empty",
            )
        webhook_type = values.get("ALERT_WEBHOOK_TYPE", "").strip() or "webhook"
        if webhook_type not in WEBHOOK_TYPES:
            raise AlertSettingsError(
                "ALERT_WEBHOOK_TYPE",
                f"is {webhook_type!r}",
                f"use one of {', '.join(WEBHOOK_TYPES)} (webhook: Slack-compatible)",
            )
        return cls(
            emails,
            _count(values, "ALERT_THRESHOLD_EVENTS", 10),
            _count(values, "ALERT_THRESHOLD_MINUTES", 60),
            webhook_url,
            webhook_type,
        )

    def local_only(self) -> tuple[str, ...]:
        """The addresses GlitchTip will not invite (development only; see `from_values`)."""
        return tuple(address for address in self.emails if local_only(address))

    def recipients(self) -> frozenset[Recipient]:
        email = Recipient("email")
        return frozenset(
            {email, Recipient(self.webhook_type, normal_url(self.webhook_url))} if self.webhook_url else {email}
        )


def _count(values: dict[str, str], name: str, default: int) -> int:
    text = values.get(name, "").strip() or str(default)
    if not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise AlertSettingsError(name, f"is {text!r}", f"use a whole number from 1 to {MAX_COUNT}")
    return int(text)


def normal_url(url: str) -> str:
    """The URL as GlitchTip stores it (pydantic's HttpUrl adds "/" to a bare host), to compare with."""
    return url + "/" if re.fullmatch(r"https?://[^/?#]+", url) else url


@dataclass(frozen=True)
class AlertSpec:
    """One alert as the settings want it."""

    name: str
    quantity: int | None
    timespan_minutes: int | None
    uptime: bool
    recipients: frozenset[Recipient]

    def body(self) -> dict:
        """The whole alert, recipients included: a PUT deletes every recipient it does not list."""
        return {
            "name": self.name,
            "quantity": self.quantity,
            "timespanMinutes": self.timespan_minutes,
            "uptime": self.uptime,
            "alertRecipients": [r.body() for r in sorted(self.recipients)],
        }

    def differences(self, alert: Alert) -> list[str]:
        """What `alert` has otherwise than this spec, for the progress line; empty when it matches."""
        found = []
        if (alert.quantity, alert.timespan_minutes) != (self.quantity, self.timespan_minutes):
            found.append(
                f"{describe(alert.quantity, alert.timespan_minutes)} -> "
                f"{describe(self.quantity, self.timespan_minutes)}"
            )
        if alert.uptime != self.uptime:
            found.append(f"uptime {alert.uptime} -> {self.uptime}")
        if alert.recipients != self.recipients:
            found.append("recipients " + "+".join(sorted(r.recipient_type for r in self.recipients)))
        return found


def describe(quantity: int | None, minutes: int | None) -> str:
    if quantity is None or minutes is None:
        return "no issue rule"
    return f"{quantity} event(s) in {minutes} min"


def wanted_alerts(settings: AlertSettings) -> list[AlertSpec]:
    """A new issue, an issue passing the threshold, and a monitor going down or up: same recipients."""
    recipients = settings.recipients()
    return [
        AlertSpec("new issue", 1, NEW_ISSUE_MINUTES, False, recipients),
        AlertSpec("frequent issue", settings.threshold_events, settings.threshold_minutes, False, recipients),
        # Monitors notify through alerts with uptime on; one such alert, or each down is mailed twice.
        AlertSpec("monitor down or back up", None, None, True, recipients),
    ]
