"""The outage watcher's e-mails: their text, their recipients, and sending them with the app's mail settings."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email

from outages.checks import Check
from outages.watch import Kind, Notice, Target


class NoticeError(Exception):
    """An e-mail that could not be sent; it stays due."""


def recipients() -> list[str]:
    """ALERT_EMAILS, or when it is empty the GlitchTip admin: whom GlitchTip's own alerts reach."""
    addresses = [a.strip() for a in settings.ALERT_EMAILS.split(",") if a.strip()]
    variable = "ALERT_EMAILS"
    if not addresses and settings.GLITCHTIP_ADMIN_EMAIL.strip():
        addresses, variable = [settings.GLITCHTIP_ADMIN_EMAIL.strip()], "GLITCHTIP_ADMIN_EMAIL"
    if not addresses:
        raise ValueError(
            "nobody to mail: set ALERT_EMAILS (addresses separated by commas) or GLITCHTIP_ADMIN_EMAIL in env/ENV.env"
        )
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValueError(
                f"{variable} holds {address!r}, which is not an e-mail address: list addresses "
                "separated by commas, e.g. ops@example.com,dev@example.com"
            ) from None
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def compose(notice: Notice, checks: list[Check], interval: int, alert_after: int) -> Letter:
    by_name = {check.name: check for check in checks}
    stack = f"Migraine Forecast ({settings.APP_ENV or 'unnamed environment'}, {settings.APP_PUBLIC_URL})"
    env = settings.APP_ENV or "ENV"
    if notice.kind is Kind.DOWN:
        failing = [t for t in notice.targets if t.failing]
        lines = [f"The outage watcher of {stack} cannot reach:", ""]
        for target in failing:
            lines += [
                f"  {target.name} ({by_name[target.name].where})",
                f"    failing since {clock(target.failing_since)} ({duration(notice.at, target.failing_since)}):"
                f" {target.reason}",
            ]
        lines += [
            "",
            *(by_name[t.name].impact for t in failing),
            "",
            f"Look:   scripts/compose {env} ps",
            f"        scripts/compose {env} logs --tail 50 postgres glitchtip-web",
            "",
            f"It checks every {interval} s and mails after {alert_after} s of failure. You get one more "
            "e-mail when everything is reachable again, and nothing else until then (unless something "
            "else fails too).",
        ]
        names = " and ".join(t.name for t in failing)
        subject = f"Outage: {names} unreachable since {clock(min(when(t) for t in failing), seconds=False)}"
    else:
        mailed = [t for t in notice.targets if t.mailed]
        lines = [f"Reachable again, as seen by the outage watcher of {stack}:", ""]
        for target in mailed:
            lines.append(
                f"  {target.name} ({by_name[target.name].where}): failed from "
                f"{clock(target.down_from)} to {clock(target.back_at)} "
                f"({duration(target.back_at, target.down_from)})"
            )
        if any(t.name == "GlitchTip" for t in mailed):
            lines += [
                "",
                "Errors the app had meanwhile may be missing from GlitchTip (what its SDK could not "
                f"deliver, it dropped): read them in its log, scripts/compose {env} logs --since <the time "
                "above> app scheduler",
            ]
        if still := [t for t in notice.targets if t.failing]:
            lines += [
                "",
                "Failing for less than the threshold (an e-mail follows if it lasts):",
                *(f"  {t.name}: since {clock(t.failing_since)}: {t.reason}" for t in still),
            ]
        names = " and ".join(t.name for t in mailed)
        subject = f"Resolved: {names} reachable again (down {duration(notice.at, min(when(t) for t in mailed))})"
    return Letter(f"[{settings.APP_ENV or 'Migraine Forecast'}] {subject}", "\n".join(lines) + "\n")


def send(letter: Letter, to: list[str]) -> None:
    """Through EMAIL_URL, from DEFAULT_FROM_EMAIL: the app's own mail settings."""
    try:
        EmailMessage(letter.subject, letter.body, settings.DEFAULT_FROM_EMAIL, to).send()
    except (OSError, smtplib.SMTPException) as exc:
        raise NoticeError(f"{type(exc).__name__}: {exc}") from None


def when(target: Target) -> datetime:
    start = target.down_from or target.failing_since
    assert start is not None
    return start


def clock(moment: datetime | None, seconds: bool = True) -> str:
    assert moment is not None
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%H:%M UTC")


def duration(end: datetime | None, start: datetime | None) -> str:
    assert end is not None and start is not None
    total = max(0, round((end - start) / timedelta(seconds=1)))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes or hours:
        parts.append(f"{minutes} min")
    if seconds or not parts:
        parts.append(f"{seconds} s")
    return " ".join(parts)
