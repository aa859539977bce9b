"""Provision GlitchTip for the app and inject the DSN into the environment's secrets file.

Usage: scripts/bootstrap-glitchtip [ENV] [--dry-run] [--url URL] [--release VERSION] [--no-create-admin]

Idempotent: it looks before it creates (GlitchTip's creates are not idempotent), and a second
run changes nothing and says so. Steps: reach GlitchTip, make sure the admin exists and log in,
get or create an API token, get or create the organization, team and project, read the DSN,
heartbeat monitors for the jobs and an uptime monitor on the app (a changed schedule or address
updates the monitor), the people who get alert e-mail (ALERT_EMAILS: each one a member of the
team), the project alerts (glitchtip/alerts.py; a changed ALERT_* setting updates them), record
the release, close open registration (staging/production), then write SENTRY_DSN (in-network
host), SENTRY_PUBLIC_DSN, GLITCHTIP_API_TOKEN and HEARTBEAT_URLS atomically into
env/ENV.secrets.env, keeping every other line. Passwords and tokens are never printed.

Exit status per failing step: 2 configuration, 10 GlitchTip unreachable, 11 admin user could not
be created, 12 login refused, 13 API token, 14 organization, 15 team, 16 project or DSN,
17 monitors, 18 release, 19 registration, 20 secrets file, 21 alert recipients, 22 alerts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from apscheduler.triggers.cron import CronTrigger

from glitchtip.alerts import AlertSettings, AlertSettingsError, wanted_alerts
from glitchtip.client import Alert, GlitchTipCertificateError, GlitchTipClient, GlitchTipError, Monitor, Project
from scripts._steps import StepFailed, Steps
from scripts.settings import envfiles, scheduled_jobs, tls
from scripts.stack import engine, stack_runtime

if TYPE_CHECKING:
    import subprocess

TOKEN_LABEL = "migraine-forecast-bootstrap"
# What the scripts do with the token: provision (org, team, project, monitors, releases) and read events.
# and invite the people of ALERT_EMAILS (member:*).
TOKEN_SCOPES = [
    "org:read",
    "org:write",
    "team:read",
    "team:write",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "event:read",
    "event:write",
    "member:read",
    "member:write",
]
UPTIME_NAME = "app /healthz"
# createsuperuser and the shell in glitchtip-web: Django starts in a few seconds, more on a busy host.
MANAGE_TIMEOUT = 300
PAST = {
    "create": "created",
    "update": "updated",
    "invite": "invited",
    "add": "added",
    "replace": "replaced",
    "turn": "turned",
}
# GlitchTip has no API to create a user: the same shell the admin's createsuperuser runs in.
CREATE_USER = """\
import os
from django.contrib.auth import get_user_model
users = get_user_model().objects
email = os.environ["ALERT_USER_EMAIL"]
if users.filter(email__iexact=email).exists():
    print("exists")
else:
    users.create_user(email=email, password=None)  # no usable password: they choose one by "Forgot password"
    print("created")
"""


def rewrite_origin(url: str, origin: str) -> str:
    """`url` with its scheme and host:port replaced by `origin`'s (public DSN -> in-network DSN)."""
    parts, target = urlsplit(url), urlsplit(origin)
    userinfo = f"{parts.username}@" if parts.username else ""
    return urlunsplit((target.scheme, f"{userinfo}{target.netloc}", parts.path, parts.query, parts.fragment))


def heartbeat_interval(cron: str) -> int:
    """Seconds between two runs at most (over the next 50), plus 10 % grace, within GlitchTip's 1..86400."""
    trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    times = [trigger.get_next_fire_time(None, datetime.now(UTC))]
    for _ in range(49):
        times.append(trigger.get_next_fire_time(times[-1], times[-1] + timedelta(seconds=1)))
    gap = max(int((later - earlier).total_seconds()) for earlier, later in zip(times, times[1:], strict=False))
    return min(86400, gap + gap // 10)


# What bootstrap decides about a monitor; the rest (expected body, timeout...) is left as found.
MONITOR_FIELDS = ("monitor_type", "url", "interval", "expected_status", "project_id")


def monitor_drift(monitor: Monitor, spec: Monitor) -> str:
    """How `monitor` differs from `spec` ("interval 3960 -> 7200"); empty when it fits."""
    return ", ".join(
        f"{field.replace('_id', '')} {getattr(monitor, field)} -> {getattr(spec, field)}"
        for field in MONITOR_FIELDS
        if getattr(monitor, field) != getattr(spec, field)
    )


def uptime_url(env: str, values: dict[str, str]) -> str:
    """GlitchTip checks the app's public /healthz, which proves the whole way in (DNS, certificate, nginx).
    Where it cannot (a public host that is this machine, or https verified against a CA of our own that
    GlitchTip does not trust: a rehearsal, a private CA) it checks through nginx by its network alias
    (GlitchTip refuses single-label host names such as "nginx"), which answers /healthz over plain http."""
    public = values.get("APP_PUBLIC_URL", "")
    if urlsplit(public).hostname in {"localhost", "127.0.0.1", "::1"} or tls.trust(env, values) is not True:
        return "http://app.internal/healthz"
    return f"{public.rstrip('/')}/healthz"


class Bootstrap:
    def __init__(self, env: str, values: dict[str, str], args):
        self.env = env
        self.values = values
        self.args = args
        self.dry_run = args.dry_run
        # https is verified against the environment's CA (the public ones, TLS_CA_FILE, or a rehearsal's).
        self.client = GlitchTipClient(args.url or values["GLITCHTIP_PUBLIC_URL"], verify=tls.trust(env, values))
        self.changes: list[str] = []
        # A dry run that cannot log in (the admin does not exist yet) cannot read anything either.
        self.blind = False
        self.updates: dict[str, str] = {}
        self.project: Project | None = None
        # What needs a person (an invitation to accept...), printed at the end; not changes.
        self.notes: list[str] = []
        self.steps = Steps("bootstrap-glitchtip", 13)

    def change(self, what: str, verb: str = "create") -> str:
        self.changes.append(what)
        return f"{'would ' + verb if self.dry_run else PAST[verb]} {what}"

    def require(self, name: str) -> str:
        value = self.values.get(name, "")
        if not value or envfiles.PLACEHOLDER in value:
            raise StepFailed(2, f"{name} is not set", f"set {name} in env/{self.env}.env or env/{self.env}.secrets.env")
        return value

    def run(self) -> None:
        email, password = self.require("GLITCHTIP_ADMIN_EMAIL"), self.require("GLITCHTIP_ADMIN_PASSWORD")
        try:
            alert_settings = AlertSettings.from_values(self.values)
        except AlertSettingsError as exc:
            raise StepFailed(2, str(exc), f"{exc.fix} (in {envfiles.origin(self.env, exc.variable)})") from None
        with self.steps.step(f"reach GlitchTip at {self.client.base_url}") as out:
            try:
                healthy = self.client.healthy()
            except GlitchTipCertificateError as exc:
                raise StepFailed(
                    10,
                    str(exc),
                    "check the certificate nginx serves (scripts/compose "
                    f"{self.env} logs certificates nginx) and what this machine trusts: TLS_CA_FILE, or "
                    f"with TLS_MODE=rehearsal env/{self.env}.rehearsal-ca.pem (scripts/up saves it)",
                ) from None
            if not healthy:
                raise StepFailed(
                    10,
                    f"GlitchTip does not answer at {self.client.base_url}/_health/",
                    f"start the stack (scripts/compose {self.env} up -d) and wait until glitchtip-web "
                    "is healthy, or pass --url",
                )
        with self.steps.step(f"admin user {email}") as out:
            out["result"] = self.ensure_admin(email, password)
        with self.steps.step("API token") as out:
            out["result"] = self.ensure_token()
        with self.steps.step(f"organization {self.require('GLITCHTIP_ORGANIZATION')!r}") as out:
            out["result"], org = self.ensure_organization(self.values["GLITCHTIP_ORGANIZATION"])
        with self.steps.step(f"team {self.require('GLITCHTIP_TEAM')!r}") as out:
            out["result"] = self.ensure_team(org, self.values["GLITCHTIP_TEAM"])
        with self.steps.step(f"project {self.require('GLITCHTIP_PROJECT')!r}") as out:
            out["result"], project = self.ensure_project(
                org, self.values["GLITCHTIP_TEAM"], self.values["GLITCHTIP_PROJECT"]
            )
        with self.steps.step("DSN") as out:
            out["result"] = self.read_dsn(org, project)
        with self.steps.step("monitors (a heartbeat per job, uptime of the app)") as out:
            out["result"] = self.ensure_monitors(org, project)
        with self.steps.step(f"who gets alert e-mail ({', '.join(alert_settings.emails)})") as out:
            out["result"] = self.ensure_alert_people(org, self.values["GLITCHTIP_TEAM"], project, alert_settings)
        with self.steps.step("alerts (new issue, frequent issue, monitor down or back up)") as out:
            out["result"] = self.ensure_alerts(org, project, alert_settings)
        with self.steps.step("release") as out:
            out["result"] = self.ensure_release(org, project)
        with self.steps.step("user registration") as out:
            out["result"] = self.close_registration()
        with self.steps.step(f"env/{self.env}.secrets.env") as out:
            out["result"] = self.write_secrets()

    # ---- steps -------------------------------------------------------------
    def ensure_admin(self, email: str, password: str) -> str:
        try:
            self.client.login(email, password)
            return "exists, logged in"
        except GlitchTipError as exc:
            if exc.status is None:
                raise StepFailed(10, str(exc), "check that GlitchTip is running") from None
            refused = exc
        if self.args.no_create_admin or self.dry_run:
            if self.dry_run:
                self.blind = True
                return self.change(f"admin user {email} (if it does not exist)")
            raise StepFailed(
                12,
                f"{refused} ({refused.detail})",
                f"set GLITCHTIP_ADMIN_PASSWORD in env/{self.env}.secrets.env to the admin's password, or "
                f"reset it: scripts/exec {self.env} glitchtip-web ./manage.py changepassword "
                f"{email}",
            )
        created = self.create_admin(email, password)
        try:
            self.client.login(email, password)
        except GlitchTipError:
            raise StepFailed(
                12,
                f"GlitchTip refused the login of {email}",
                f"the user exists with another password: set GLITCHTIP_ADMIN_PASSWORD in "
                f"env/{self.env}.secrets.env to it, or reset it with scripts/exec {self.env} "
                f"glitchtip-web ./manage.py changepassword {email}",
            ) from None
        return self.change(f"admin user {email}") if created else "exists, logged in"

    def manage(self, code: int, *args: str, **variables: str) -> subprocess.CompletedProcess:
        """`./manage.py args` in glitchtip-web, under Compose or Swarm alike, `variables` passed in its
        environment (values never appear on a command line); `code` is the exit status when it cannot run."""
        try:
            command = stack_runtime.exec_command(
                self.env, "glitchtip-web", ["./manage.py", *args], pass_env=list(variables)
            )
        except envfiles.EnvError as exc:
            raise StepFailed(code, str(exc), "start the stack and wait until glitchtip-web is healthy") from None
        try:
            return engine.run(
                command,
                timeout=MANAGE_TIMEOUT,
                env={**os.environ, **variables},
                fix=f"check glitchtip-web: scripts/compose {self.env} ps glitchtip-web",
            )
        except engine.EngineError as exc:
            raise StepFailed(code, str(exc), "start the stack and wait until glitchtip-web is healthy") from None

    def create_admin(self, email: str, password: str) -> bool:
        """GlitchTip's own createsuperuser, inside its container; False when the user already existed."""
        result = self.manage(
            11, "createsuperuser", "--noinput", DJANGO_SUPERUSER_EMAIL=email, DJANGO_SUPERUSER_PASSWORD=password
        )
        if result.returncode == 0:
            return True
        if "already" in (result.stderr + result.stdout):
            return False
        raise StepFailed(
            11,
            f"createsuperuser failed: {result.stderr.strip()[-300:]}",
            f"check scripts/compose {self.env} logs glitchtip-web; the service must be running",
        )

    def ensure_token(self) -> str:
        if self.blind:
            return self.change("an API token")
        current = self.values.get("GLITCHTIP_API_TOKEN", "")
        self.client.token = current
        try:
            works = self.client.token_works()
            # From here on the session (ensure_admin opened it) reads and writes tokens, and a dry
            # run reads everything else with it too.
            self.client.token = ""
            old = next((t for t in self.client.tokens() if t.value == current), None) if works else None
            missing = sorted(set(TOKEN_SCOPES) - set(old.scopes)) if old else []
            if works and not missing:
                self.client.token = current
                return "reused (from the secrets file)"
            if old:  # made by an older bootstrap: a new one with every scope replaces it
                what, verb = f"API token {TOKEN_LABEL!r} (the old one lacks {', '.join(missing)})", "replace"
            else:
                what, verb = (f"API token {TOKEN_LABEL!r}" if not self.dry_run else "an API token"), "create"
            if self.dry_run:
                return self.change(what, verb)
            token = self.client.create_token(TOKEN_LABEL, TOKEN_SCOPES)
            # Saved at once: the value is shown only now, and a later failing step must not lose it
            # (the next run would create yet another token).
            self.save({"GLITCHTIP_API_TOKEN": token.value})
            if old:
                self.client.delete_token(old.id)
        except GlitchTipError as exc:
            if exc.status == 401 and self.client.secure_session_over_http():
                raise StepFailed(
                    13,
                    f"API token: {exc}: GlitchTip's session cookie is Secure "
                    f"(GLITCHTIP_SECURE_COOKIES=true), and over {self.client.base_url} (http://) a "
                    "Secure cookie is never sent back, so the login did not hold",
                    "serve GlitchTip over https (GLITCHTIP_PUBLIC_URL=https://..., TLS_MODE acme, "
                    "files or rehearsal: docs/operations/production-and-tls.md), or for plain http on purpose set "
                    f"GLITCHTIP_SECURE_COOKIES=false in env/{self.env}.local.env",
                ) from None
            raise StepFailed(
                13, f"API token: {exc} {exc.detail}", "check that the admin user can log in to GlitchTip's web UI"
            ) from None
        self.client.token = token.value
        return self.change(what, verb)

    def ensure_organization(self, name: str):
        if self.blind:
            return self.change(f"organization {name!r}"), None
        try:
            for org in self.client.organizations():
                if org.name == name:
                    return f"exists ({org.slug})", org.slug
            if self.dry_run:
                return self.change(f"organization {name!r}"), None
            org = self.client.create_organization(name)
        except GlitchTipError as exc:
            raise StepFailed(
                14,
                f"organization: {exc} {exc.detail}",
                "the admin must be a superuser (created by this script) or GLITCHTIP_ENABLE_ORGANIZATION_CREATION=true",
            ) from None
        return self.change(f"organization {name!r} ({org.slug})"), org.slug

    def ensure_team(self, org: str | None, slug: str) -> str:
        if org is None:
            return self.change(f"team {slug!r}")
        try:
            if any(team.slug == slug for team in self.client.teams(org)):
                return "exists"
            if self.dry_run:
                return self.change(f"team {slug!r}")
            self.client.create_team(org, slug)
        except GlitchTipError as exc:
            raise StepFailed(15, f"team: {exc} {exc.detail}", "check the team in GlitchTip's web UI") from None
        return self.change(f"team {slug!r}")

    def ensure_project(self, org: str | None, team: str, name: str):
        if org is None:
            return self.change(f"project {name!r}"), None
        try:
            for project in self.client.projects(org):
                if project.name == name:
                    return f"exists ({project.slug})", project
            if self.dry_run:
                return self.change(f"project {name!r}"), None
            project = self.client.create_project(org, team, name)
        except GlitchTipError as exc:
            raise StepFailed(16, f"project: {exc} {exc.detail}", "check the project in GlitchTip's web UI") from None
        return self.change(f"project {name!r} ({project.slug})"), project

    def read_dsn(self, org: str | None, project: Project | None) -> str:
        self.project = project
        if org is None or project is None:
            return "known once the project exists"
        try:
            keys = self.client.project_keys(org, project.slug)
        except GlitchTipError as exc:
            raise StepFailed(16, f"project keys: {exc} {exc.detail}", "check the project's client keys") from None
        if not keys:
            raise StepFailed(
                16,
                f"project {project.slug} has no client key",
                "create one in GlitchTip (project settings, client keys)",
            )
        # The oldest key (GlitchTip lists the newest first): a key added later never moves the DSN.
        public = keys[-1].public_dsn
        internal = rewrite_origin(public, self.require("GLITCHTIP_INTERNAL_URL"))
        self.updates.update(SENTRY_PUBLIC_DSN=public, SENTRY_DSN=internal)
        return f"{urlsplit(public).hostname} for the host, {urlsplit(internal).hostname} inside the stack"

    def ensure_monitors(self, org: str | None, project: Project | None) -> str:
        """A heartbeat monitor per job of app/config/jobs.toml, and the uptime monitor of the app; one
        whose schedule, address or project no longer fits is updated (GlitchTip never changes them)."""
        schedules = scheduled_jobs.schedules(self.values)
        if org is None or project is None:
            return self.change(f"{len(schedules) + 1} monitors")
        internal = self.require("GLITCHTIP_INTERNAL_URL")
        # Each monitor as it should be (id 0: the spec, not a stored monitor).
        wanted = {
            f"job {job}": Monitor(0, f"job {job}", "Heartbeat", "", self.interval(job, schedule), None, project.id)
            for job, schedule in schedules.items()
        }
        wanted[UPTIME_NAME] = Monitor(
            0, UPTIME_NAME, "GET", uptime_url(self.env, self.values), 60, None, project.id, 200
        )
        created, updated = [], []
        found: dict[str, Monitor | None] = {}
        try:
            existing = {m.name: m for m in self.client.monitors(org)}
            for name, spec in wanted.items():
                monitor = existing.get(name)
                if monitor is None:
                    created.append(name)
                    if not self.dry_run:
                        monitor = self.client.create_monitor(org, spec)
                elif drift := monitor_drift(monitor, spec):
                    updated.append(f"{name} ({drift})")
                    if not self.dry_run:
                        # The whole monitor, the rest as it was: a PUT replaces every field.
                        monitor = self.client.update_monitor(
                            org, replace(monitor, **{field: getattr(spec, field) for field in MONITOR_FIELDS})
                        )
                found[name] = monitor
        except GlitchTipError as exc:
            raise StepFailed(
                17, f"monitors: {exc}: {exc.detail}", "check the monitors under Uptime Monitors in GlitchTip's web UI"
            ) from None
        # In the jobs' order, so that an unchanged set of monitors gives the same value byte for byte.
        self.updates["HEARTBEAT_URLS"] = json.dumps(
            {
                job: rewrite_origin(monitor.heartbeat_endpoint, internal)
                for job in schedules
                if (monitor := found.get(f"job {job}")) is not None and monitor.heartbeat_endpoint
            }
        )
        results = ([self.change(", ".join(created))] if created else []) + (
            [self.change(", ".join(updated), "update")] if updated else []
        )
        return "; ".join(results) or f"{len(wanted)} exist"

    def interval(self, job: str, schedule: str) -> int:
        try:
            return heartbeat_interval(schedule)
        except ValueError as exc:
            raise StepFailed(
                2,
                f"the schedule of {job}, {schedule!r}, is not a cron expression ({exc})",
                f"fix SCHEDULE_{job.upper()} in env/{self.env}.env",
            ) from None

    def ensure_alert_people(self, org: str | None, team: str, project: Project | None, settings: AlertSettings) -> str:
        """Each ALERT_EMAILS address an accepted member of the team, which is whom GlitchTip mails;
        the admin's own alert e-mail for the project on or off as the list says."""
        if org is None or project is None:
            return self.change(f"alert e-mail for {', '.join(settings.emails)}", "turn")
        admin = self.values["GLITCHTIP_ADMIN_EMAIL"].strip().lower()
        done: list[str] = []
        try:
            in_team = {m.email.lower(): m for m in self.client.team_members(org, team)}
            in_org = {m.email.lower(): m for m in self.client.organization_members(org)}
            uninvitable = [address for address in settings.local_only() if address not in in_team]
            if uninvitable:
                self.notes.append(
                    f"GlitchTip does not invite {', '.join(uninvitable)} (its invitations want a public "
                    "domain, as in name@example.com, which mailpit catches too), so no alert e-mail "
                    "from GlitchTip goes there"
                )
            for address in (address for address in settings.emails if address not in uninvitable):
                member = in_team.get(address)
                if member is None and address in in_org:
                    member = in_org[address]
                    done.append(self.change(f"{address} to team {team!r}", "add"))
                    if not self.dry_run:
                        self.client.add_member_to_team(org, member.id, team)
                elif member is None:
                    done.append(self.change(f"{address} to team {team!r}", "invite"))
                    if not self.dry_run:
                        member = self.invite(org, team, address)
                if member is not None and member.pending:
                    self.notes.append(
                        f"{address} gets no alert e-mail until they accept GlitchTip's invitation "
                        "(sent to that address; docs/operations/alerts.md)"
                    )
            # The admin created the team, so is in it: their own setting keeps them out when not listed.
            subscribed = self.client.alert_subscriptions().get(project.id, -1) != 0
            if subscribed != (admin in settings.emails):
                verb = "on" if admin in settings.emails else "off"
                done.append(self.change(f"alert e-mail of {admin} {verb}", "turn"))
                if not self.dry_run:
                    self.client.set_alert_subscription(project.id, -1 if admin in settings.emails else 0)
        except GlitchTipError as exc:
            raise StepFailed(
                21,
                f"alert recipients: {exc}: {exc.detail}",
                f"check the members of team {team!r} in GlitchTip's web UI",
            ) from None
        others = sorted(
            email
            for email, member in in_team.items()
            if not member.pending and email not in settings.emails and email != admin
        )
        if others:
            self.notes.append(
                f"also in team {team!r}, so also mailed: {', '.join(others)} (each can turn the "
                "project's alerts off in their GlitchTip profile)"
            )
        return "; ".join(done) or f"{len(settings.emails)} team member(s)"

    def invite(self, org: str, team: str, address: str):
        """An invitation into the organization and the team. While registration is closed GlitchTip
        invites only existing users, so the user is made first (without a usable password)."""
        try:
            return self.client.invite_member(org, address, team)
        except GlitchTipError as exc:
            if exc.status != 403 or "existing users" not in exc.detail:
                raise
        if self.args.no_create_admin:
            raise StepFailed(
                21,
                f"{address} has no GlitchTip account and registration is closed",
                "run without --no-create-admin (it creates the account in the glitchtip-web "
                "container), or let the person sign up while registration is open",
            )
        result = self.manage(21, "shell", "--no-imports", "-c", CREATE_USER, ALERT_USER_EMAIL=address)
        if result.returncode != 0:
            raise StepFailed(
                21,
                f"could not create a GlitchTip user for {address}: {result.stderr.strip()[-300:]}",
                f"check scripts/compose {self.env} logs glitchtip-web; the service must be running",
            )
        self.notes.append(
            f"{address} got a GlitchTip account without a password: they set one with "
            '"Forgot password" on GlitchTip\'s login page, then accept the invitation'
        )
        return self.client.invite_member(org, address, team)

    def ensure_alerts(self, org: str | None, project: Project | None, settings: AlertSettings) -> str:
        """The alerts of glitchtip/alerts.py, found by name: created when missing, replaced as a whole
        when a setting changed (a PUT must carry every recipient)."""
        wanted = wanted_alerts(settings)
        if org is None or project is None:
            return self.change(f"{len(wanted)} alerts")
        done: list[str] = []
        try:
            existing: dict[str, Alert] = {}
            for alert in sorted(self.client.alerts(org, project.slug), key=lambda a: a.id):
                existing.setdefault(alert.name, alert)  # the oldest of a name, should there be twins
            for spec in wanted:
                found = existing.get(spec.name)
                if found is None:
                    done.append(self.change(f"alert {spec.name!r}"))
                    if not self.dry_run:
                        self.client.create_alert(org, project.slug, spec.body())
                elif differences := spec.differences(found):
                    done.append(self.change(f"alert {spec.name!r} ({', '.join(differences)})", "update"))
                    if not self.dry_run:
                        self.client.update_alert(org, project.slug, found.id, spec.body())
        except GlitchTipError as exc:
            raise StepFailed(
                22,
                f"alerts: {exc}: {exc.detail}",
                "check the project's alerts in GlitchTip's web UI (project settings, alerts)",
            ) from None
        return "; ".join(done) or f"{len(wanted)} exist"

    def ensure_release(self, org: str | None, project: Project | None) -> str:
        # The release scripts/up built (env/ENV.release.env), unless given.
        version = self.args.release or os.environ.get("SENTRY_RELEASE") or self.values.get("SENTRY_RELEASE", "")
        if not version:
            return "skipped (no --release, SENTRY_RELEASE or env/ENV.release.env)"
        if org is None or project is None:
            return self.change(f"release {version}")
        try:
            if version in self.client.releases(org, project.slug):
                return f"{version} exists"
            if not self.dry_run:
                self.client.create_release(org, project.slug, version)
        except GlitchTipError as exc:
            raise StepFailed(
                18,
                f"release: {exc} {exc.detail}",
                "the API token needs the project:releases scope; "
                f"delete GLITCHTIP_API_TOKEN from env/{self.env}.secrets.env to get a new one",
            ) from None
        return self.change(f"release {version}")

    def close_registration(self) -> str:
        if self.env == "development":
            return "left as configured (development)"
        try:
            open_ = self.client.settings().get("enableUserRegistration")
        except GlitchTipError as exc:
            raise StepFailed(19, f"registration: {exc}", "check GlitchTip's /api/settings/") from None
        if not open_:
            return "closed"
        # GlitchTip reads this only at start: the override goes into the secrets file and
        # scripts/up restarts GlitchTip.
        self.updates["GLITCHTIP_ENABLE_USER_REGISTRATION"] = "false"
        return self.change("an override GLITCHTIP_ENABLE_USER_REGISTRATION=false (restart glitchtip-web)")

    def write_secrets(self) -> str:
        if self.dry_run and self.project is None:
            return "would set SENTRY_DSN, SENTRY_PUBLIC_DSN and HEARTBEAT_URLS once the project exists"
        current = envfiles.read(envfiles.secrets_file(self.env))
        pending = sorted(k for k, v in self.updates.items() if current.get(k) != v)
        if not pending:
            return "up to date"
        if self.dry_run:
            return f"would set {', '.join(pending)}"
        self.save(self.updates)
        self.changes.append(f"set {', '.join(pending)}")
        return f"set {', '.join(pending)}"

    def save(self, values: dict[str, str]) -> None:
        path = envfiles.secrets_file(self.env)
        try:
            envfiles.update(path, values)
        except (OSError, envfiles.EnvError) as exc:
            raise StepFailed(
                20, f"could not write {path}: {exc}", "check the file's permissions and free disk"
            ) from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bootstrap-glitchtip", description=__doc__.split("\n")[0])
    parser.add_argument("env", nargs="?")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    parser.add_argument("--url", help="GlitchTip's address (default: GLITCHTIP_PUBLIC_URL)")
    parser.add_argument(
        "--release",
        help="release to record (default: $SENTRY_RELEASE, else the one scripts/up built, from env/ENV.release.env)",
    )
    parser.add_argument(
        "--no-create-admin",
        action="store_true",
        help="do not run manage.py in the glitchtip-web container (to create the admin, or an "
        "account for an ALERT_EMAILS address while registration is closed)",
    )
    args = parser.parse_args(argv[1:])
    steps = Steps("bootstrap-glitchtip", 1)
    try:
        env = envfiles.environment(args.env)
        secrets = envfiles.secrets_file(env)
        if not secrets.exists():
            raise StepFailed(2, f"{secrets.relative_to(envfiles.REPO)} does not exist", f"run scripts/secrets {env}")
        with envfiles.locked(secrets):  # a concurrent run waits, then finds everything in place
            bootstrap = Bootstrap(env, envfiles.read_environment(env), args)
            steps = bootstrap.steps
            print(f"bootstrap-glitchtip {env}{' (dry run)' if args.dry_run else ''}")
            bootstrap.run()
    except envfiles.EnvError as exc:
        print(f"bootstrap-glitchtip: {exc}", file=sys.stderr)
        return 2
    except StepFailed as error:
        return steps.fail(error)
    for note in bootstrap.notes:
        print(f"Note: {note}")
    if not bootstrap.changes:
        print("Nothing changed: GlitchTip is already provisioned and the secrets file is up to date.")
    elif args.dry_run:
        print(f"Dry run: {len(bootstrap.changes)} change(s) would be made; nothing was changed.")
    else:
        print(f"Done: {len(bootstrap.changes)} change(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
