"""Send one event of each kind through the app's own Sentry set-up and print their ids.

The guide's test_sentry.py as a command: an exception, a message, an ERROR log record and a
transaction with spans, all with breadcrumbs, tags, a custom context and a user, and all
tagged with one run id so that scripts/smoke-test can find them in GlitchTip. An event id only
says that the SDK made the event: the command then waits for the transport and exits non-zero,
naming what was not delivered and why, unless GlitchTip accepted all four.
"""

import json
import logging
import uuid
from typing import cast

import sentry_sdk
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.sentry_transport import GlitchTipTransport

logger = logging.getLogger("forecast.sentry_check")

# What the four events count as in the transport (config/sentry_transport.py): the exception,
# the message and the error log are "error" items, the transaction a "transaction".
SENT = {"error": 3, "transaction": 1}


class SentryCheckError(Exception):
    """The deliberate exception sent by sentry_check."""


class Command(BaseCommand):
    help = "Send a test exception, message, error log and transaction to Sentry/GlitchTip; print their event ids."

    def add_arguments(self, parser):
        parser.add_argument("--run-id", default="", help="Tag every event with this id (default: a new one).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        parser.add_argument("--flush-timeout", type=float, default=10.0, help="Seconds to wait for delivery.")

    def handle(self, *args, **options):
        client = sentry_sdk.get_client()
        if not client.is_active():
            raise CommandError(
                "Sentry is off in this process: set SENTRY_DSN (and SENTRY_ENABLED=true). "
                f"Now: SENTRY_ENABLED={settings.SENTRY.enabled}, "
                f"SENTRY_DSN {'set' if settings.SENTRY.dsn else 'empty'}."
            )
        run_id = options["run_id"] or uuid.uuid4().hex[:12]
        ids = {}
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("run_id", run_id)
            scope.set_tag("check", "sentry_check")
            scope.set_tag("source", "app")
            scope.set_user({"id": "sentry-check", "username": "sentry-check"})
            scope.set_context(
                "sentry_check",
                {"run_id": run_id, "environment": settings.SENTRY.environment, "release": settings.SENTRY.release},
            )
            # Canaries: the scrubbing must remove these (scripts/smoke-test fails if one reaches GlitchTip).
            scope.set_extra("password", f"pw-canary-{run_id}")
            scope.set_extra("api_key", f"key-canary-{run_id}")
            sentry_sdk.add_breadcrumb(
                category="user_action", message=f"mail to canary-{run_id}@example.com", level="info"
            )
            sentry_sdk.add_breadcrumb(category="user_action", message="sentry_check started", level="info")
            sentry_sdk.add_breadcrumb(category="weather", message="pretend weather fetch", data={"run_id": run_id})

            # One issue per kind whatever the run id: a check is no "new issue" for the alerts to mail.
            scope.fingerprint = ["sentry_check", "error"]
            try:
                raise SentryCheckError(f"sentry_check exception {run_id}")
            except SentryCheckError:
                ids["error"] = sentry_sdk.capture_exception()
            scope.fingerprint = ["sentry_check", "message"]
            ids["message"] = sentry_sdk.capture_message(f"sentry_check message {run_id}", level="info")
            scope.fingerprint = ["sentry_check", "log"]
            logger.error("sentry_check error log %s", run_id)
            ids["log"] = sentry_sdk.last_event_id()

            # Sampled whatever the sample rate: the check must produce a transaction.
            transaction = sentry_sdk.start_transaction(op="sentry_check", name=f"sentry_check {run_id}", sampled=True)
            for step in ("weather.fetch", "llm.call", "db.query"):
                with transaction.start_child(op=step, name=f"sentry_check {step}"):
                    pass
            ids["transaction"] = transaction.finish()

        sentry_sdk.flush(timeout=options["flush_timeout"])
        delivery = cast(GlitchTipTransport, client.transport).delivery  # config/sentry.py's transport
        missing = {
            category: count - delivery.delivered[category]
            for category, count in SENT.items()
            if delivery.delivered[category] < count
        }
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "run_id": run_id,
                        "environment": settings.SENTRY.environment,
                        "release": settings.SENTRY.release,
                        "events": ids,
                        "delivered": not missing,
                    }
                )
            )
        else:
            self.stdout.write(
                f"run id {run_id} (environment {settings.SENTRY.environment}, release {settings.SENTRY.release})"
            )
            for kind, event_id in ids.items():
                self.stdout.write(f"  {kind:12} {event_id}")
        if missing:
            reasons = ", ".join(f"{count} {reason}" for reason, count in delivery.undelivered().items())
            unconfirmed = sum(missing.values()) - sum(delivery.undelivered().values())
            if unconfirmed > 0:
                reasons += f"{', ' if reasons else ''}{unconfirmed} unconfirmed after {options['flush_timeout']:g} s"
            raise CommandError(
                f"Not delivered to {delivery.target}: "
                + ", ".join(f"{count} of {SENT[category]} {category} events" for category, count in missing.items())
                + f" ({reasons}"
                + (f"; last failure: {delivery.last_failure}" if delivery.last_failure else "")
                + "). Check that GlitchTip runs and that SENTRY_DSN points at it from here."
            )
