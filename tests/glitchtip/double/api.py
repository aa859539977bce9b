"""The `/api/0/` endpoints (django-ninja on the real server): those recorded, and those the scripts call.

Each endpoint declares how it is reached the way GlitchTip's routers do: who may call it
(token or session, session only, anyone), the token scopes it needs (any one of them), and
its request body. The checks run in django-ninja's order: authentication (401/403), body
(400/422), scopes (403 "Permission denied"), then the view itself (404 ...).

Adding an endpoint: a method with an `@endpoint(...)` decorator that returns a dict (200), a
(status, dict) pair, or a `Listing` (paginated), and raises `wire.Reply` errors.
"""
from __future__ import annotations

import json
import random
import re
import secrets
import string
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlencode

from tests.harness.http_fake import Request, Response

from . import serializers as show
from . import wire
from .auth import SCOPES, Caller, Sessions, authenticate, issue_token
from .interpret import event_id_hex
from .pagination import Listing, paginate
from .state import (
    AlertRecipient,
    Issue,
    Membership,
    Monitor,
    MonitorCheck,
    Organization,
    Project,
    ProjectAlert,
    ProjectKey,
    Release,
    State,
    Team,
)
from .validation import TYPE_ERRORS, Field, payload

ORG_READ = ("org:read", "org:write", "org:admin")
PROJECT_READ = ("project:read", "project:write", "project:admin")
PROJECT_WRITE = ("project:write", "project:admin")
EVENT_READ = ("event:read", "event:write", "event:admin")
RELEASES = ("project:releases",)
MEMBER_READ = ("member:read", "member:write", "member:admin")
MEMBER_WRITE = ("member:write", "member:admin")
TEAM_WRITE = ("team:write", "team:admin")
ORG_ROLES = ("member", "admin", "manager", "owner")
# Alert recipient types (apps/alerts/constants.py), and pydantic's names for them in errors.
RECIPIENT_TAGS = {"email": "RecipientType.EMAIL", "discord": "RecipientType.DISCORD",
                  "webhook": "RecipientType.GENERAL_WEBHOOK", "googlechat": "RecipientType.GOOGLE_CHAT"}
# PositiveSmallIntegerField: quantity and timespan, and (in the recorded source) a monitor's interval.
SMALLINT_MAX = 32767
MONITOR_TYPES = ("Ping", "GET", "POST", "TCP Port", "SSL", "Heartbeat")
HTTP_MONITOR_TYPES = ("Ping", "GET", "POST")
ISSUE_SORTS = ("last_seen", "first_seen", "count")
TRANSACTION_GROUP_SORTS = ("created", "avg_duration", "transaction_count")
# MonitorIn's fields in its order (so a 422 lists the missing ones as GlitchTip does). Every
# required one must be sent even when empty (expectedBody "", timeout null).
MONITOR_IN = (Field("expectedBody", str), Field("expectedStatus", int, nullable=True),
              Field("timeout", int, nullable=True), Field("project", str, None, nullable=True),
              Field("monitorType", str, "Ping"), Field("name", str), Field("url", str, ""), Field("interval", int, 60))


# Django's URLValidator, without its IDN details: a dotted host name, localhost or an IP address.
# (So an uptime monitor cannot check "http://nginx/": the bundle uses the alias app.internal.)
_URL = re.compile(r"^(?:https?|ftps?)://(?:[^\s:@/]+(?::[^\s:@/]*)?@)?"
                  r"(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]|(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                  r"(?:[a-z-]{2,63}|xn--[a-z0-9]{1,59})\.?)(?::\d{1,5})?(?:[/?#]\S*)?$", re.IGNORECASE)
_CONVERTERS = {"slug": r"[-a-zA-Z0-9_]+", "int": r"[0-9]+", "str": r"[^/]+",
               "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"}


@dataclass
class Endpoint:
    method: str
    pattern: re.Pattern
    handler: Callable
    auth: str | None  # "api" (token or session), "session", or None for anyone
    scopes: tuple[str, ...] | None
    body: tuple[Field, ...] | None


ENDPOINTS: list[Endpoint] = []


def endpoint(method: str, path: str, *, auth: str | None = "api", scopes: tuple[str, ...] | None = None,
             body: tuple[Field, ...] | None = None):
    """Register an /api/0/ endpoint; `path` uses Django's converters, e.g. {int:issue_id}."""
    def to_group(match: re.Match) -> str:
        converter, _, name = match.group(1).rpartition(":")
        return f"(?P<{name}>{_CONVERTERS[converter or 'str']})"

    pattern = re.compile("/api/0/" + re.sub(r"\{([^}]+)\}", to_group, path))

    def register(handler):
        ENDPOINTS.append(Endpoint(method, pattern, handler, auth, scopes, body))
        return handler
    return register


@dataclass
class Call:
    request: Request
    caller: Caller
    body: dict

    @property
    def user(self):
        return self.caller.user

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.request.param(name, default)


class Api:
    def __init__(self, state: State, sessions: Sessions, clock: Callable[[], datetime], domain: Callable[[], str],
                 registration_open: Callable[[], bool] = lambda: False):
        self.state = state
        self.sessions = sessions
        self.clock = clock
        self.domain = domain
        self.registration_open = registration_open

    def handle(self, endpoint: Endpoint, request: Request, params: dict[str, str]) -> Response:
        caller = None
        if endpoint.auth:
            caller = authenticate(request, self.state, self.sessions, session_only=endpoint.auth == "session")
        body = payload(request, *endpoint.body) if endpoint.body else {}
        if endpoint.scopes and caller and not caller.may(endpoint.scopes):
            raise wire.detail(403, "Permission denied")
        result = endpoint.handler(self, Call(request, caller, body),  # type: ignore[arg-type]
                                  **{name: unquote(value) for name, value in params.items()})
        if isinstance(result, Listing):
            items, headers = paginate(result, _absolute_url(request), request.param("limit"), request.param("cursor"))
            return wire.ninja(200, items, headers)
        status, body = result if isinstance(result, tuple) else (200, result)
        if status == 204:
            return Response(204, b"", {"Content-Type": wire.NINJA_JSON})
        return wire.ninja(status, body)

    # ---- lookups that 404 ------------------------------------------------------
    def _organization(self, call: Call, slug: str) -> Organization:
        return _found(self.state.organization(call.user, slug))

    def _project(self, call: Call, org_slug: str, project_slug: str) -> Project:
        return _found(self.state.project(call.user, org_slug, project_slug))

    def _issue(self, call: Call, issue_id: str) -> Issue:
        return _found(self.state.issue(call.user, int(issue_id)))

    # ---- API tokens (session only) -----------------------------------------------
    @endpoint("GET", "api-tokens/", auth="session")
    def list_api_tokens(self, call: Call):
        return Listing([token for token in self.state.tokens if token.user is call.user], "-created", show.api_token)

    @endpoint("DELETE", "api-tokens/{int:token_id}/", auth="session")
    def delete_api_token(self, call: Call, token_id: str):
        token = _found(next((t for t in self.state.tokens if t.user is call.user and t.id == int(token_id)), None))
        self.state.tokens.remove(token)
        return 204, None

    @endpoint("POST", "api-tokens/", auth="session", body=(Field("label", str, ""), Field("scopes", list)))
    def create_api_token(self, call: Call):
        wanted = call.body["scopes"]
        if any(scope not in SCOPES for scope in wanted):
            raise wire.detail(422, [{"scopes": "Invalid scope"}])
        return 201, show.api_token(issue_token(self.state, call.user, call.body["label"], wanted, self.clock()))

    # ---- organizations -------------------------------------------------------
    @endpoint("GET", "organizations/", scopes=ORG_READ)
    def list_organizations(self, call: Call):
        return Listing([org for org in self.state.organizations if call.user in org.members], "name",
                       show.organization)

    @endpoint("POST", "organizations/", scopes=("org:write", "org:admin"), body=(Field("name", str),))
    def create_organization(self, call: Call):
        slug = slugify(call.body["name"])
        taken = {org.slug for org in self.state.organizations}
        length = 2
        candidate = slug
        # Not an error but a random suffix, one character longer after each collision.
        while candidate in taken:
            candidate = f"{slug}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=length))}"
            length += 1
        org = Organization(self.state.next_id("organization"), call.body["name"], candidate, self.clock(),
                           [call.user])
        self.state.organizations.append(org)
        self.state.memberships.append(Membership(self.state.next_id("member"), org, call.user.email, "owner",
                                                 self.clock(), call.user))
        return 201, self._organization_detail(org, call)

    @endpoint("GET", "organizations/{slug:org_slug}/", scopes=ORG_READ)
    def get_organization(self, call: Call, org_slug: str):
        return self._organization_detail(self._organization(call, org_slug), call)

    def _organization_detail(self, org: Organization, call: Call) -> dict:
        teams = [team for team in self.state.teams if team.organization is org]
        projects = sorted((project for project in self.state.projects if project.organization is org),
                          key=lambda project: project.name)
        return show.organization_detail(org, teams, projects, call.user)

    # ---- teams ---------------------------------------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/teams/",
              scopes=("team:read", "team:write", "team:admin", *ORG_READ))
    def list_teams(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        return Listing([team for team in self.state.teams if team.organization is org], "-created",
                       lambda team: show.team(team, call.user, self._team_projects(team)))

    @endpoint("POST", "organizations/{slug:org_slug}/teams/",
              scopes=("team:write", "team:admin", "org:admin", "org:write"), body=(Field("slug", str),))
    def create_team(self, call: Call, org_slug: str):
        slug = call.body["slug"]
        if not re.fullmatch(r"[-a-zA-Z0-9_]{1,50}", slug):
            raise wire.invalid("body", "slug", "string_pattern_mismatch",
                               "String should match pattern '^[-a-zA-Z0-9_]+$'")
        org = self._organization(call, org_slug)
        if any(team.organization is org and team.slug == slug for team in self.state.teams):
            raise wire.server_error()  # the unique constraint fails in the database
        team = Team(self.state.next_id("team"), org, slug, self.clock(), [call.user])
        self.state.teams.append(team)
        return 201, show.team(team, call.user, [])

    def _team_projects(self, team: Team) -> list[Project]:
        return sorted((project for project in self.state.projects if team in project.teams),
                      key=lambda project: project.name)

    # ---- projects --------------------------------------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/projects/", scopes=("project:read",))
    def list_organization_projects(self, call: Call, org_slug: str):
        projects = [project for project in self.state.projects
                    if project.organization.slug == org_slug and call.user in project.organization.members]
        return Listing(projects, "name", lambda project: show.project_with_teams(project, call.user))

    @endpoint("POST", "teams/{slug:org_slug}/{slug:team_slug}/projects/", scopes=PROJECT_WRITE,
              body=(Field("name", str), Field("slug", str, None, nullable=True),
                    Field("platform", str, None, nullable=True), Field("eventThrottleRate", int, None, nullable=True)))
    def create_project(self, call: Call, org_slug: str, team_slug: str):
        org = self._organization(call, org_slug)
        team = _found(next((team for team in self.state.teams if team.organization is org and team.slug == team_slug),
                           None))
        base = call.body["slug"] or slugify(call.body["name"])
        taken = {project.slug for project in self.state.projects if project.organization is org}
        # django-extensions' AutoSlugField: not an error but "-2", "-3" ...
        slug = next(candidate for candidate in (base, *(f"{base}-{n}" for n in range(2, 10_000)))
                    if candidate not in taken)
        now = self.clock()
        project = Project(self.state.next_id("project"), org, call.body["name"], slug, call.body["platform"], now,
                          [team])
        self.state.projects.append(project)
        self.state.keys.append(ProjectKey(project, uuid.uuid4(), now))
        return 201, show.project(project, call.user)

    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/", scopes=PROJECT_READ)
    def get_project(self, call: Call, org_slug: str, project_slug: str):
        return show.project_with_organization(self._project(call, org_slug, project_slug), call.user)

    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/keys/", scopes=PROJECT_READ)
    def list_project_keys(self, call: Call, org_slug: str, project_slug: str):
        project = self._project(call, org_slug, project_slug)
        return Listing(self.state.keys_of(project), "-created", lambda key: show.project_key(key, self.domain()))

    # ---- issues ------------------------------------------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/issues/", scopes=EVENT_READ)
    def list_issues(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        issues = [issue for issue in self.state.issues if issue.project.organization is org]
        if project := call.param("project"):
            issues = [issue for issue in issues if str(issue.project.id) == project]
        return self._issue_listing(call, issues)

    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/issues/", scopes=EVENT_READ)
    def list_project_issues(self, call: Call, org_slug: str, project_slug: str):
        project = self._project(call, org_slug, project_slug)
        return self._issue_listing(call, [issue for issue in self.state.issues if issue.project is project])

    @endpoint("GET", "issues/{int:issue_id}/", scopes=EVENT_READ)
    def get_issue(self, call: Call, issue_id: str):
        return show.issue_detail(self._issue(call, issue_id), self.domain())

    def _issue_listing(self, call: Call, issues: list[Issue]) -> Listing:
        """`sort`, and the two query forms recorded: `is:<status> level:<level>` terms, then free text
        (GlitchTip's full-text search; here every word must be in the issue's title or culprit)."""
        sort = _sort(call, "-last_seen", ISSUE_SORTS)
        words = []
        for term in (call.param("query") or "").split():
            name, colon, value = term.partition(":")
            if colon and name == "is":
                issues = [issue for issue in issues if issue.status == value]
            elif colon and name == "level":
                issues = [issue for issue in issues if issue.level == value]
            else:
                words.append(term.lower())
        issues = [issue for issue in issues if all(word in issue.search_text.lower() for word in words)]
        return Listing(issues, sort, lambda issue: show.issue(issue, self.domain()))

    # ---- events --------------------------------------------------------------------------
    @endpoint("GET", "issues/{int:issue_id}/events/", scopes=EVENT_READ)
    def list_issue_events(self, call: Call, issue_id: str):
        # Snake_case: this endpoint is declared without by_alias.
        return Listing(self.state.events_of(issue=self._issue(call, issue_id)), "-received",
                       lambda event: show.event(event, camel=False))

    @endpoint("GET", "issues/{int:issue_id}/events/latest/", scopes=EVENT_READ)
    def get_latest_issue_event(self, call: Call, issue_id: str):
        events = self.state.events_of(issue=self._issue(call, issue_id))
        if not events:
            raise wire.not_found()
        return self._event_detail(max(events, key=lambda event: event.received), events, latest=True)

    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/events/{event_id}/", scopes=EVENT_READ)
    def get_project_event(self, call: Call, org_slug: str, project_slug: str, event_id: str):
        events = self.state.events_of(project=self._project(call, org_slug, project_slug))
        wanted = event_id_hex(event_id)
        if wanted is None:
            raise wire.invalid("path", "event_id", "uuid_parsing", "Input should be a valid UUID")
        # Not stored yet (ingestion is asynchronous) looks the same as never sent.
        return self._event_detail(_found(next((event for event in events if event.id == wanted), None)), events)

    @staticmethod
    def _event_detail(event, events: list, latest: bool = False) -> dict:
        """With the ids of its neighbours (by time received) among `events`."""
        earlier = [other for other in events if other.received < event.received]
        later = [other for other in events if other.received > event.received]
        return show.event_detail(event, max(earlier, key=lambda other: other.received, default=None),
                                 None if latest else min(later, key=lambda other: other.received, default=None))

    # ---- performance ----------------------------------------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/transaction-groups/")
    def list_transaction_groups(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        sort = _sort(call, "-avg_duration", TRANSACTION_GROUP_SORTS)
        groups = [group for group in self.state.transaction_groups if group.project.organization is org]
        if call.param("environment"):
            groups = []  # GlitchTip filters on the groups' tags, which it never fills in
        # `query` is accepted and ignored, as by GlitchTip.
        return Listing(groups, sort, show.transaction_group)

    # ---- uptime monitors (no scope checks in GlitchTip) -------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/monitors/")
    def list_monitors(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        return Listing([monitor for monitor in self.state.monitors if monitor.organization is org], "-created",
                       lambda monitor: show.monitor(monitor, self.domain()))

    @endpoint("POST", "organizations/{slug:org_slug}/monitors/", body=MONITOR_IN)
    def create_monitor(self, call: Call, org_slug: str):
        body = call.body
        _check_monitor(body)
        org = self._organization(call, org_slug)
        monitor = Monitor(self.state.next_id("monitor"), org, self._monitor_project(org, body), body["monitorType"],
                          body["name"], body["url"], body["expectedStatus"], body["expectedBody"], body["interval"],
                          body["timeout"], uuid.uuid4() if body["monitorType"] == "Heartbeat" else None, self.clock())
        self.state.monitors.append(monitor)
        return 201, show.monitor(monitor, self.domain())

    @endpoint("GET", "organizations/{slug:org_slug}/monitors/{int:monitor_id}/")
    def get_monitor(self, call: Call, org_slug: str, monitor_id: str):
        return show.monitor(self._monitor(call, org_slug, monitor_id), self.domain(), with_response_time=True)

    # A full replacement (there is no PATCH): what is left out falls back to MonitorIn's defaults,
    # `project` to none, which detaches the monitor from its project and its uptime alerts.
    @endpoint("PUT", "organizations/{slug:org_slug}/monitors/{int:monitor_id}/", body=MONITOR_IN)
    def update_monitor(self, call: Call, org_slug: str, monitor_id: str):
        body = call.body
        _check_monitor(body)
        monitor = self._monitor(call, org_slug, monitor_id)
        monitor.project = self._monitor_project(monitor.organization, body)
        monitor.monitor_type, monitor.name, monitor.url = body["monitorType"], body["name"], body["url"]
        monitor.expected_status, monitor.expected_body = body["expectedStatus"], body["expectedBody"]
        monitor.interval, monitor.timeout = body["interval"], body["timeout"]
        return show.monitor(monitor, self.domain())

    @endpoint("DELETE", "organizations/{slug:org_slug}/monitors/{int:monitor_id}/")
    def delete_monitor(self, call: Call, org_slug: str, monitor_id: str):
        self.state.monitors.remove(self._monitor(call, org_slug, monitor_id))
        return 204, None

    def _monitor(self, call: Call, org_slug: str, monitor_id: str) -> Monitor:
        org = self._organization(call, org_slug)
        return _found(next((m for m in self.state.monitors if m.organization is org and m.id == int(monitor_id)), None))

    def _monitor_project(self, org: Organization, body: dict) -> Project | None:
        return next((project for project in self.state.projects
                     if project.organization is org and str(project.id) == body["project"]), None)

    # ---- project alerts ------------------------------------------------------------------------
    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/alerts/", scopes=("project:read",))
    def list_alerts(self, call: Call, org_slug: str, project_slug: str):
        project = self._project(call, org_slug, project_slug)
        return Listing([alert for alert in self.state.alerts if alert.project is project], "-id", show.alert)

    @endpoint("POST", "projects/{slug:org_slug}/{slug:project_slug}/alerts/", scopes=PROJECT_WRITE)
    def create_alert(self, call: Call, org_slug: str, project_slug: str):
        fields, recipients = _alert_payload(call.request)
        project = self._project(call, org_slug, project_slug)
        _check_alert_numbers(fields, on_insert=lambda: self.state.next_id("alert"))
        alert = ProjectAlert(self.state.next_id("alert"), project, fields.get("name") or "",
                             fields.get("timespanMinutes"), fields.get("quantity"), fields.get("uptime", False))
        self.state.alerts.append(alert)
        # Recipients are bulk-inserted after the alert, outside a transaction: a duplicate fails the
        # unique (alert, type, url) constraint with a 500, and the alert stays without recipients.
        made = [AlertRecipient(self.state.next_id("recipient"), *recipient) for recipient in recipients]
        if len({(r.recipient_type, r.url, r.tags_to_add) for r in made}) != len(made):
            raise wire.server_error()
        alert.recipients = made
        return 201, show.alert(alert)

    @endpoint("PUT", "projects/{slug:org_slug}/{slug:project_slug}/alerts/{int:alert_id}/", scopes=PROJECT_WRITE)
    def update_alert(self, call: Call, org_slug: str, project_slug: str, alert_id: str):
        """Fields sent replace theirs; the recipients are matched on (type, url): kept (same id), added,
        and every one not sent is deleted, all of them when alertRecipients is left out."""
        fields, recipients = _alert_payload(call.request)
        alert = self._alert(call, org_slug, project_slug, alert_id)
        _check_alert_numbers(fields)
        for key, attribute in (("name", "name"), ("timespanMinutes", "timespan_minutes"), ("quantity", "quantity"),
                               ("uptime", "uptime")):
            if key in fields:
                setattr(alert, attribute, fields[key])
        kept = []
        for recipient in recipients:
            found = next((r for r in alert.recipients + kept if (r.recipient_type, r.url, r.tags_to_add) == recipient),
                         None)
            kept.append(found or AlertRecipient(self.state.next_id("recipient"), *recipient))
        alert.recipients = list(dict.fromkeys(kept))
        return show.alert(alert)

    @endpoint("DELETE", "projects/{slug:org_slug}/{slug:project_slug}/alerts/{int:alert_id}/",
              scopes=("project:admin",))
    def delete_alert(self, call: Call, org_slug: str, project_slug: str, alert_id: str):
        self.state.alerts.remove(self._alert(call, org_slug, project_slug, alert_id))
        return 204, None

    def _alert(self, call: Call, org_slug: str, project_slug: str, alert_id: str) -> ProjectAlert:
        project = self._project(call, org_slug, project_slug)
        return _found(next((a for a in self.state.alerts if a.project is project and a.id == int(alert_id)), None))

    @endpoint("GET", "users/{user_id}/notifications/alerts/")
    def get_alert_subscriptions(self, call: Call, user_id: str):
        self._me(call, user_id)
        return {str(project): status for (user, project), status in self.state.alert_subscriptions.items()
                if user == call.user.id}

    @endpoint("PUT", "users/{user_id}/notifications/alerts/")
    def set_alert_subscription(self, call: Call, user_id: str):
        """`{project_id: status}`, one pair: 1 on, 0 off, -1 back to the user's default (forgotten)."""
        self._me(call, user_id)
        body = _json_object(call.request)
        if len(body) != 1:
            raise wire.detail(422, [{"msg": "Invalid alert format, expected one value"}])
        (project_id, status), = body.items()
        if status not in (1, 0, -1):
            raise wire.detail(422, [{"msg": "Invalid status, must be -1, 0, or 1"}])
        key = (call.user.id, int(project_id))
        if status == -1:
            self.state.alert_subscriptions.pop(key, None)
        else:
            self.state.alert_subscriptions[key] = status
        return 204, None

    @staticmethod
    def _me(call: Call, user_id: str) -> None:
        if user_id not in ("me", str(call.user.id)):
            raise wire.not_found()

    # ---- members: who an e-mail alert reaches -------------------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/members/", scopes=MEMBER_READ)
    def list_members(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        return Listing([m for m in self.state.memberships if m.organization is org], "-id", show.member)

    @endpoint("GET", "teams/{slug:org_slug}/{slug:team_slug}/members/", scopes=MEMBER_READ)
    def list_team_members(self, call: Call, org_slug: str, team_slug: str):
        team = self._team(call, org_slug, team_slug)
        members = [m for m in self.state.memberships if m.organization is team.organization
                   and (m.user in team.members or m in team.invited)]
        return Listing(members, "-id", show.member)

    @endpoint("POST", "organizations/{slug:org_slug}/members/", scopes=MEMBER_WRITE,
              body=(Field("orgRole", str), Field("teamRoles", list, []), Field("email", str),
                    Field("sendInvite", bool, True), Field("reinvite", bool, True)))
    def invite_member(self, call: Call, org_slug: str):
        """An invitation by e-mail; the member stays pending (user null) until the person accepts."""
        body = call.body
        if body["orgRole"] not in ORG_ROLES:
            raise wire.invalid("body", "orgRole", "enum", "Input should be " + ", ".join(map(repr, ORG_ROLES)))
        org = self._organization(call, org_slug)
        email = body["email"]
        if not self.registration_open() and not any(u.email.lower() == email.lower() for u in self.state.users):
            raise wire.detail(403, "Only existing users may be invited")
        members = [m for m in self.state.memberships if m.organization is org]
        if any(m.user and m.user.email.lower() == email.lower() for m in members):
            raise wire.detail(409, f"The user {email} is already a member")
        membership = next((m for m in members if m.pending and m.email.lower() == email.lower()), None)
        if membership is not None and not body["reinvite"]:
            raise wire.detail(409, f"The user {email} is already invited")
        if membership is None:
            membership = Membership(self.state.next_id("member"), org, email, body["orgRole"], self.clock(),
                                    token=secrets.token_hex(8))
            self.state.memberships.append(membership)
        slugs = {role.get("teamSlug") for role in body["teamRoles"] if isinstance(role, dict)}
        for team in self.state.teams:
            if team.organization is org and team.slug in slugs and membership not in team.invited:
                team.invited.append(membership)
        self.state.invitations_sent.append(membership)
        return 201, show.member(membership)

    @endpoint("POST", "organizations/{slug:org_slug}/members/{member_id}/teams/{slug:team_slug}/",
              scopes=TEAM_WRITE)
    def add_member_to_team(self, call: Call, org_slug: str, member_id: str, team_slug: str):
        team = self._team(call, org_slug, team_slug)
        members = [m for m in self.state.memberships if m.organization is team.organization]
        membership = _found(next((m for m in members if (m.user is call.user if member_id == "me"
                                                         else str(m.id) == member_id)), None))
        if membership.user is None:
            if membership not in team.invited:
                team.invited.append(membership)
        elif membership.user not in team.members:
            team.members.append(membership.user)
        return 201, show.team(team, call.user, self._team_projects(team))

    @endpoint("POST", "accept/{int:member_id}/{token}/", body=(Field("acceptInvite", bool),))
    def accept_invite(self, call: Call, member_id: str, token: str):
        membership = _found(next((m for m in self.state.memberships if m.id == int(member_id)), None))
        if not membership.token or token != membership.token:
            raise wire.detail(403, "Invalid invite token")
        if call.body["acceptInvite"]:
            self.accept(membership, call.user)
        return {"acceptInvite": call.body["acceptInvite"],
                "orgUser": {**show.member(membership), "organization": show.organization(membership.organization)}}

    def accept(self, membership: Membership, user) -> None:
        membership.user = user
        if user not in membership.organization.members:
            membership.organization.members.append(user)
        for team in self.state.teams:
            if membership in team.invited:
                team.invited.remove(membership)
                team.members.append(user)

    def _team(self, call: Call, org_slug: str, team_slug: str) -> Team:
        org = self._organization(call, org_slug)
        return _found(next((t for t in self.state.teams if t.organization is org and t.slug == team_slug), None))

    @endpoint("POST", "organizations/{slug:org_slug}/heartbeat_check/{uuid:endpoint_id}/", auth=None)
    def heartbeat_check(self, call: Call, org_slug: str, endpoint_id: str):
        monitor = _found(next((monitor for monitor in self.state.monitors if monitor.organization.slug == org_slug
                               and str(monitor.endpoint_id) == endpoint_id), None))
        latest = monitor.latest_check
        check = MonitorCheck(is_up=True, is_change=latest is None or latest.is_up is not True, start_check=self.clock())
        monitor.checks.append(check)
        return show.monitor_check(check, snake=True)

    # ---- releases ---------------------------------------------------------------------------
    @endpoint("POST", "organizations/{slug:org_slug}/releases/", scopes=RELEASES,
              body=(Field("version", str), Field("projects", list), Field("ref", str, None, nullable=True),
                    Field("dateReleased", str, None, nullable=True)))
    def create_release(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        projects = [project for project in self.state.projects
                    if project.organization is org and project.slug in call.body["projects"]]
        if not projects:
            raise wire.detail(422, [{"projects": "Require at least one valid project"}])
        if any(release.organization is org and release.version == call.body["version"]
               for release in self.state.releases):
            raise wire.server_error()  # the (organization, version) unique constraint fails
        return 201, show.release(self._new_release(org, call.body, projects))

    @endpoint("POST", "projects/{slug:org_slug}/{slug:project_slug}/releases/", scopes=RELEASES,
              body=(Field("version", str), Field("ref", str, None, nullable=True),
                    Field("dateReleased", str, None, nullable=True)))
    def create_project_release(self, call: Call, org_slug: str, project_slug: str):
        project = self._project(call, org_slug, project_slug)
        # get_or_create here: an existing version is no error, it just gains the project.
        release = next((release for release in self.state.releases if release.organization is project.organization
                        and release.version == call.body["version"]), None)
        if release is None:
            release = self._new_release(project.organization, call.body, [])
        if project not in release.projects:
            release.projects.append(project)
        return 201, show.release(release)

    def _new_release(self, org: Organization, body: dict, projects: list[Project]) -> Release:
        released = _datetime(body["dateReleased"]) if body["dateReleased"] else self.clock()
        release = Release(org, body["version"], created=self.clock(), released=released, projects=projects,
                          ref=body["ref"])
        self.state.releases.append(release)
        return release

    @endpoint("GET", "organizations/{slug:org_slug}/releases/", scopes=RELEASES)
    def list_releases(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        return Listing([release for release in self.state.releases if release.organization is org], "-created",
                       show.release)

    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/releases/", scopes=RELEASES)
    def list_project_releases(self, call: Call, org_slug: str, project_slug: str):
        project = self._project(call, org_slug, project_slug)
        return Listing([release for release in self.state.releases if project in release.projects], "-created",
                       show.release)

    # ---- environments -------------------------------------------------------------------------
    @endpoint("GET", "organizations/{slug:org_slug}/environments/", scopes=ORG_READ)
    def list_environments(self, call: Call, org_slug: str):
        org = self._organization(call, org_slug)
        return Listing([environment for environment in self.state.environments if environment.organization is org],
                       "-created", show.environment)

    @endpoint("GET", "projects/{slug:org_slug}/{slug:project_slug}/environments/", scopes=PROJECT_READ)
    def list_project_environments(self, call: Call, org_slug: str, project_slug: str):
        project = self._project(call, org_slug, project_slug)
        return Listing([link for link in self.state.environment_projects if link.project is project], "-created",
                       show.environment_project)


def _json_object(request: Request) -> dict:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise wire.detail(400, "Cannot parse request body") from None
    if not isinstance(body, dict):
        raise wire.detail(422, [{"type": "model_attributes_type", "loc": ["body", "payload"],
                                 "msg": "Input should be a valid dictionary or object to extract fields from"}])
    return body


def _alert_payload(request: Request) -> tuple[dict, list[tuple[str, str, tuple[str, ...]]]]:
    """ProjectAlertIn: the scalar fields that were sent, and the recipients as (type, url, tags)."""
    body = _json_object(request)
    fields, errors = {}, []
    for key, kind in (("name", str), ("timespanMinutes", int), ("quantity", int), ("uptime", bool)):
        if key in body:
            value = body[key]
            if value is not None and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
                errors.append(wire.field_error("body", key, *TYPE_ERRORS[kind]))
            fields[key] = value
    recipients = []
    for index, raw in enumerate(body.get("alertRecipients") or []):
        recipient, problems = _recipient(index, raw)
        errors += problems
        if recipient:
            recipients.append(recipient)
    if errors:
        raise wire.detail(422, errors)
    return fields, recipients


def _recipient(index: int, raw) -> tuple[tuple[str, str, tuple[str, ...]] | None, list[dict]]:
    """One recipient through the discriminated union EmailAlertRecipientIn | WebhookAlertRecipientIn."""
    where = ["body", "payload", "alertRecipients", index]
    kind = raw.get("recipientType") if isinstance(raw, dict) else None
    if kind not in RECIPIENT_TAGS:
        expected = ", ".join(RECIPIENT_TAGS.values())
        return None, [{"type": "union_tag_invalid", "loc": where,
                       "msg": f"Input tag '{kind}' found using 'recipient_type' | 'recipientType' does not match any "
                              f"of the expected tags: {expected}",
                       "ctx": {"discriminator": "'recipient_type' | 'recipientType'", "tag": str(kind),
                               "expected_tags": expected}}]
    url = raw.get("url", "" if kind == "email" else None)
    tags = tuple(raw.get("tagsToAdd") or ())
    if kind == "email":
        if url in ("", None):
            return (kind, url or "", tags), []
        problem = _url_problem(url)
        if problem is None:
            return (kind, normal_url(url), tags), []
        return None, [{**problem, "loc": [*where, "email", "url", "function-wrap[wrap_val()]"]},
                      {"type": "literal_error", "loc": [*where, "email", "url", "literal['']"],
                       "msg": "Input should be ''", "ctx": {"expected": "''"}}]
    if url is None:
        return None, [{"type": "missing", "loc": [*where, kind, "url"], "msg": "Field required"}]
    problem = _url_problem(url)
    if problem is not None:
        return None, [{**problem, "loc": [*where, kind, "url"]}]
    return (kind, normal_url(url), tags), []


def _url_problem(url) -> dict | None:
    """pydantic's HttpUrl check, for the two cases recorded (no scheme, another scheme)."""
    if not isinstance(url, str) or not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return {"type": "url_parsing", "msg": "Input should be a valid URL, relative URL without a base",
                "ctx": {"error": "relative URL without a base"}}
    if not url.startswith(("http://", "https://")):
        return {"type": "url_scheme", "msg": "URL scheme should be 'http' or 'https'",
                "ctx": {"expected_schemes": "'http' or 'https'"}}
    return None


def normal_url(url: str) -> str:
    """As pydantic's HttpUrl gives it back: a bare host gets a "/"."""
    return url + "/" if re.fullmatch(r"https?://[^/?#]+", url) else url


def _check_alert_numbers(fields: dict, on_insert: Callable[[], object] | None = None) -> None:
    """quantity and timespanMinutes are PositiveSmallIntegerFields: out of range is a database
    error, a 500 page. A negative value fails the CHECK constraint after the row took its id (so
    `on_insert` spends one); a value above 32767 fails before."""
    values = [fields.get(key) for key in ("quantity", "timespanMinutes") if isinstance(fields.get(key), int)]
    if any(value > SMALLINT_MAX for value in values):
        raise wire.server_error()
    if any(value < 0 for value in values):
        if on_insert:
            on_insert()
        raise wire.server_error()


def _check_monitor(body: dict) -> None:
    """MonitorIn's validation; its messages come back as a bare string detail."""
    kind = body["monitorType"]
    if kind not in MONITOR_TYPES:
        raise wire.invalid("body", "monitorType", "enum", "Input should be " + ", ".join(map(repr, MONITOR_TYPES)))
    if body["url"] == "" and kind in (*HTTP_MONITOR_TYPES, "SSL"):
        raise wire.detail(422, f"URL is required for {kind}")
    if kind in HTTP_MONITOR_TYPES and not _URL.match(body["url"]):
        raise wire.detail(422, "Invalid Url")
    if body["expectedStatus"] is None and kind in ("GET", "POST"):
        raise wire.detail(422, f"Expected status is required for {kind}")


def _sort(call: Call, default: str, fields: tuple[str, ...]) -> str:
    sort = call.param("sort", default) or default
    if sort.lstrip("-") not in fields:
        raise wire.invalid("query", "sort", "literal_error", "Input should be " + " or ".join(fields))
    return sort


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise wire.invalid("body", "dateReleased", "datetime_from_date_parsing",
                           "Input should be a valid datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _absolute_url(request: Request) -> str:
    """Django's build_absolute_uri: the Host the client used, not the configured domain."""
    query = urlencode(request.query, doseq=True)
    return f"http://{request.headers.get('host', '')}{request.path}" + (f"?{query}" if query else "")


def _found(thing):
    if thing is None:
        raise wire.not_found()
    return thing


def slugify(value: str) -> str:
    """Django's slugify."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value.lower())
    return re.sub(r"[-\s]+", "-", value).strip("-_")
