"""The certificates service: keeps the certificate nginx serves valid, without anyone remembering.

At TLS_RENEW_SCHEDULE (cron, UTC; twice a day by default, at a random minute within the hour) it
runs the mode's job: acme asks certbot (which renews only when due), rehearsal renews from its own
CA, files checks that the operator's certificate is not about to expire. APScheduler keeps the time,
as for the app's scheduler and the backup service. A run and `python -m certificates renew` (which
scripts/up uses for the first certificate) never overlap: they take the same lock.

The healthcheck (`python -m certificates check`) is unhealthy from a failed run until the next one
succeeds, and whenever the served certificate has less than a week left: `scripts/compose ENV ps`
shows it, `scripts/compose ENV logs certificates` says why.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from certificates import acme, pem, rehearsal
from certificates.settings import ACME, FILES, OFF, REHEARSAL, Settings, SettingsError
from certificates.store import Store

# Unhealthy below this many days left: renewals (or the operator's new files) are weeks overdue.
WARN_DAYS_LEFT = 7
# Spread over the hour: ACME CAs ask clients not to renew at the top of the hour all at once.
JITTER_SECONDS = 3600
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class JobFailed(Exception):
    """A run that did not leave a certificate fit to serve; the message says why and what to do."""


def store_of(settings: Settings) -> Store:
    return Store(settings.served)


@contextlib.contextmanager
def one_at_a_time(settings: Settings) -> Iterator[None]:
    settings.state.mkdir(parents=True, exist_ok=True)
    with open(settings.state / "run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def renew(settings: Settings, force: bool = False) -> str:
    """The mode's job, now: returns what happened, raises JobFailed when there is no fit certificate."""
    store = store_of(settings)
    store.prepare()
    with one_at_a_time(settings):
        if settings.mode == ACME:
            try:
                return acme.obtain(settings, store, force)
            except acme.AcmeError as exc:
                raise JobFailed(
                    f"{exc}\nFix: point the DNS records of {', '.join(settings.hosts)} at this host and "
                    "let the internet reach its port 80 (the CA fetches http://<host>/.well-known/"
                    "acme-challenge/...), then run scripts/up again; try against Let's Encrypt's staging "
                    "directory first (TLS_ACME_DIRECTORY_URL) to stay clear of its rate limits"
                ) from None
        if settings.mode == REHEARSAL:
            return rehearsal.renew(settings, store, force)
        if settings.mode == FILES:
            return expiry(store)
    raise JobFailed(f"TLS_MODE={settings.mode}: this service has nothing to do (remove it from COMPOSE_PROFILES)")


def expiry(store: Store) -> str:
    """TLS_MODE=files: the operator renews; this only says when that is overdue."""
    served = store.current()
    if served is None:
        raise JobFailed(
            "no certificate installed yet: run scripts/up, which installs TLS_CERTIFICATE_FILE and TLS_KEY_FILE"
        )
    left = pem.days_left(pem.read_chain(served[0], "the served certificate")[0])
    if left < WARN_DAYS_LEFT * 2:
        raise JobFailed(
            f"the certificate from your files expires in {left:.1f} days: renew it with your CA, then "
            "run scripts/up (it installs the new files)"
        )
    return f"your certificate has {left:.0f} days left"


def install(settings: Settings, data: bytes) -> str:
    """TLS_MODE=files: the operator's chain and key (one PEM stream; scripts/up sends the files, which
    scripts/check-env has checked) become the served pair."""
    chain = pem.read_chain(data, "the certificate")
    key = pem.read_key(data, "the key")
    if not pem.same_key(chain[0], key):
        raise JobFailed("the key does not belong to the certificate")
    uncovered = [host for host in settings.hosts if not pem.covers(chain[0], host)]
    if uncovered:
        raise JobFailed(f"the certificate is not valid for {', '.join(uncovered)}")
    store = store_of(settings)
    store.prepare()
    with one_at_a_time(settings):
        return "installed, now served" if store.install(*pem.to_pem(chain, key)) else "unchanged"


# ---- the service and its healthcheck ------------------------------------------------------------


def status_file(settings: Settings) -> Path:
    return settings.state / "status.json"


def record(settings: Settings, state: str, detail: str) -> None:
    text = json.dumps({"state": state, "detail": detail, "at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"}) + "\n"
    settings.state.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=settings.state, prefix=".status.")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, status_file(settings))


def run(settings: Settings, force: bool = False) -> bool:
    """One run of the mode's job, logged and recorded for the healthcheck: a scheduled one, or scripts/up's."""
    try:
        outcome = renew(settings, force)
    except (JobFailed, pem.PemError, OSError) as exc:  # recorded and logged; the next run tries again
        print(f"certificates: FAILED: {exc}", file=sys.stderr, flush=True)
        record(settings, "failed", str(exc).splitlines()[0])
        return False
    print(f"certificates: {', '.join(settings.hosts)}: {outcome}", flush=True)
    record(settings, "ok", outcome)
    return True


def check(settings: Settings) -> int:
    """The container's healthcheck."""
    try:
        status = json.loads(status_file(settings).read_text())
    except (OSError, ValueError):
        status = {"state": "waiting", "detail": "no run yet", "at": "-"}
    print(f"certificates: {status['state']} at {status['at']}: {status['detail']}")
    served = store_of(settings).current()
    if served is not None:
        left = pem.days_left(pem.read_chain(served[0], "the served certificate")[0])
        print(f"certificates: the served certificate has {left:.1f} days left")
        if left < WARN_DAYS_LEFT:
            return 1
    return 1 if status["state"] == "failed" else 0


def serve(settings: Settings) -> int:
    if settings.mode == OFF:
        print(
            "certificates: TLS_MODE=off: TLS ends in front of nginx, nothing to do here (remove "
            "certificates from COMPOSE_PROFILES)",
            file=sys.stderr,
        )
        return 2
    try:
        when = CronTrigger.from_crontab(settings.schedule, timezone=UTC)
    except ValueError as exc:
        print(
            f"certificates: TLS_RENEW_SCHEDULE is {settings.schedule!r}, not a cron schedule ({exc})", file=sys.stderr
        )
        return 2
    store_of(settings).prepare()
    # PID 1 in a container: docker stop's SIGTERM is waited for below (blocked first, so that none is lost
    # while the scheduler starts; its thread inherits the mask).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    scheduler = BackgroundScheduler(timezone=UTC)
    # A run missed while the host was down runs once, late; with a certificate already served, one
    # run at start too (a renewal due during a long stop).
    served = store_of(settings).current() is not None
    scheduler.add_job(
        run,
        when,
        args=[settings],
        id="renew",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=12 * 3600,
        jitter=JITTER_SECONDS,
        **({"next_run_time": datetime.now(UTC)} if served else {}),
    )
    if not served:
        record(settings, "waiting", "no certificate yet: scripts/up gets the first one")
    scheduler.start()
    print(
        f"certificates: TLS_MODE={settings.mode} for {', '.join(settings.hosts)}; checks at "
        f"{settings.schedule!r} (UTC, within the hour)",
        flush=True,
    )
    signal.sigwait(STOP_SIGNALS)
    scheduler.shutdown(wait=True)  # a run under way finishes: certbot is never cut off half-way
    print("certificates: stopped", flush=True)
    return 0


def settings_or_exit() -> Settings:
    try:
        return Settings.from_environment()
    except SettingsError as exc:
        print(f"certificates: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
