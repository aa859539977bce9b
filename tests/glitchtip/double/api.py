"""The `/api/0/` endpoints the bundle calls (glitchtip/client.py; the app's jobs ping the heartbeat).

Each declares, as GlitchTip's routers do, who may call it (token or session, session only, anyone), the token
scopes it needs (any one) and its request body (schemas.py). The checks run in django-ninja's order:
authentication (401/403), body (400/422), scopes (403 "Permission denied"), then the view: the path's
organization, team and project among those the caller may see (else 404), and what it does.

Adding one: a method with `@endpoint(...)` that returns a dict (200), a (status, dict) pair or a `Listing`
(paginated) and raises `wire.Reply` errors; its recorded exchanges go to tests/glitchtip/contract/.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from django.urls.converters import get_converters
from django.utils.text import slugify
from pydantic import BaseModel

from tests.harness.http_fake import Request, Response

from . import events, schemas, wire
from . import serializers as show
from . import state as s
from .auth import SCOPES, Auth, issue_token
from .pagination import Listing, paginate

ORG = "organizations/{slug:org_slug}"
TEAM = "teams/{slug:org_slug}/{slug:team_slug}"
PROJECT = "projects/{slug:org_slug}/{slug:project_slug}"
SMALLINT_MAX = 32767  # an alert's quantity and timespan are PositiveSmallIntegerFields


@dataclass
class Endpoint:
    method: str
    pattern: re.Pattern
    handler: Callable
    auth: str | None  # "api" (token or session), "session", or None for anyone
    scopes: set[str]  # any one of them; none: no scope check
    body: type[BaseModel] | None


ENDPOINTS: list[Endpoint] = []


def endpoint(
    method: str, path: str, *, auth: str | None = "api", scopes: str = "", body: type[BaseModel] | None = None
):
    """Register an /api/0/ endpoint; `path` uses Django's converters, e.g. {int:monitor_id}; `scopes` are
    separated by spaces."""

    def to_group(match: re.Match) -> str:
        converter, _, name = match.group(1).rpartition(":")
        return f"(?P<{name}>{get_converters()[converter or 'str'].regex})"

    pattern = re.compile("/api/0/" + re.sub(r"\{([^}]+)\}", to_group, path))

    def register(handler):
        ENDPOINTS.append(Endpoint(method, pattern, handler, auth, set(scopes.split()), body))
        return handler

    return register


@dataclass
class Call:
    request: Request
    user: Any  # None for an endpoint anyone may call
    body: Any  # the endpoint's schema, parsed


class Api:
    def __init__(self, state: s.State, auth: Auth, clock: Callable[[], datetime], domain: Callable[[], str]):
        self.state = state
        self.auth = auth
        self.clock = clock
        self.domain = domain

    def handle(self, endpoint: Endpoint, request: Request, **params: str) -> Response:
        user, token = (
            self.auth.authenticate(request, session_only=endpoint.auth == "session") if endpoint.auth else (None, None)
        )
        body = schemas.parse(endpoint.body, request) if endpoint.body else None
        # GlitchTip's has_permission: a token needs one of the scopes; a session is not checked.
        if endpoint.scopes and token and not endpoint.scopes & set(token.scopes):
            raise wire.detail(403, "Permission denied")
        call = Call(request, user, body)
        result = endpoint.handler(self, call, **self._path_objects(call, {k: unquote(v) for k, v in params.items()}))
        if isinstance(result, Listing):
            return wire.ninja(200, *paginate(result, request))
        status, answer = result if isinstance(result, tuple) else (200, result)
        return Response(204, b"", {"Content-Type": wire.NINJA_JSON}) if status == 204 else wire.ninja(status, answer)

    def _path_objects(self, call: Call, params: dict) -> dict:
        """The path's organization, team and project as `org`, `team`, `project`; other parameters as they are."""
        if "org_slug" in params:
            visible = self.state.organizations_of(call.user) if call.user else self.state.organizations
            params["org"] = _one(visible, slug=params.pop("org_slug"))
        for name, items in (("team", self.state.teams), ("project", self.state.projects)):
            if f"{name}_slug" in params:
                params[name] = _one(items, organization=params["org"], slug=params.pop(f"{name}_slug"))
        return params

    # ---- API tokens (session only) -----------------------------------------------
    @endpoint("GET", "api-tokens/", auth="session")
    def list_api_tokens(self, call: Call):
        return Listing(s.where(self.state.tokens, user=call.user), "-created", show.api_token)

    @endpoint("POST", "api-tokens/", auth="session", body=schemas.TokenIn)
    def create_api_token(self, call: Call):
        if any(scope not in SCOPES for scope in call.body.scopes):
            raise wire.detail(422, [{"scopes": "Invalid scope"}])
        return 201, show.api_token(issue_token(self.state, call.user, call.body.label, call.body.scopes, self.clock()))

    @endpoint("DELETE", "api-tokens/{int:token_id}/", auth="session")
    def delete_api_token(self, call: Call, token_id: str):
        self.state.tokens.remove(_one(self.state.tokens, user=call.user, id=int(token_id)))
        return 204, None

    @endpoint("GET", "organizations/", scopes="org:read org:write org:admin")
    def list_organizations(self, call: Call):
        return Listing(self.state.organizations_of(call.user), "name", show.organization)

    @endpoint("POST", "organizations/", scopes="org:write org:admin", body=schemas.OrganizationIn)
    def create_organization(self, call: Call):
        slug = candidate = slugify(call.body.name)
        taken = {org.slug for org in self.state.organizations}
        # Not an error but a random suffix, one character longer after each collision.
        for length in range(2, 50):
            if candidate not in taken:
                break
            candidate = f"{slug}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=length))}"
        org = s.Organization(self.state.next_id("organization"), call.body.name, candidate, self.clock())
        self.state.organizations.append(org)
        owner = s.Membership(self.state.next_id("member"), org, call.user.email, "owner", self.clock(), call.user)
        self.state.memberships.append(owner)
        return 201, show.new_organization(org)

    @endpoint("GET", ORG + "/teams/", scopes="team:read team:write team:admin org:read org:write org:admin")
    def list_teams(self, call: Call, org: s.Organization):
        teams = s.where(self.state.teams, organization=org)
        return Listing(teams, "-created", lambda team: show.team(team, call.user, self.state.projects))

    @endpoint("POST", ORG + "/teams/", scopes="team:write team:admin org:admin org:write", body=schemas.TeamIn)
    def create_team(self, call: Call, org: s.Organization):
        if any(team.organization is org and team.slug == call.body.slug for team in self.state.teams):
            raise wire.server_error()  # the unique constraint fails in the database
        creator = _one(self.state.memberships, organization=org, user=call.user)
        team = s.Team(self.state.next_id("team"), org, call.body.slug, self.clock(), [creator])
        self.state.teams.append(team)
        return 201, show.team(team, call.user, self.state.projects)

    @endpoint("GET", ORG + "/projects/", scopes="project:read")
    def list_projects(self, call: Call, org: s.Organization):
        projects = s.where(self.state.projects, organization=org)
        return Listing(projects, "name", lambda project: show.project_with_teams(project, call.user))

    @endpoint("POST", TEAM + "/projects/", scopes="project:write project:admin", body=schemas.ProjectIn)
    def create_project(self, call: Call, org: s.Organization, team: s.Team):
        body = call.body
        base = body.slug or slugify(body.name)
        taken = {project.slug for project in s.where(self.state.projects, organization=org)}
        # django-extensions' AutoSlugField: not an error but "-2", "-3" ...
        slug = next(slug for slug in (base, *(f"{base}-{n}" for n in range(2, 10_000))) if slug not in taken)
        project = s.Project(self.state.next_id("project"), org, body.name, slug, body.platform, self.clock(), [team])
        self.state.projects.append(project)
        return 201, show.project(project, call.user)

    @endpoint("GET", PROJECT + "/keys/", scopes="project:read project:write project:admin")
    def list_project_keys(self, call: Call, org: s.Organization, project: s.Project):
        return Listing([project], "-created", lambda project: show.project_key(project, self.domain()))

    @endpoint("GET", PROJECT + "/events/{event_id}/", scopes="event:read event:write event:admin")
    def get_event(self, call: Call, org: s.Organization, project: s.Project, event_id: str):
        if (wanted := events.event_id_hex(event_id)) is None:
            raise wire.invalid("path", "event_id", "uuid_parsing", "Input should be a valid UUID")
        found = sorted(
            (event for event in self.state.events if event.issue.project is project), key=lambda e: e.received
        )
        # Not stored yet (ingestion is asynchronous) looks the same as never sent.
        index = found.index(_one(found, id=wanted))
        return events.detail(found[index], found[index - 1] if index else None, next(iter(found[index + 1 :]), None))

    @endpoint("GET", ORG + "/transaction-groups/")
    def list_transaction_groups(self, call: Call, org: s.Organization):
        """The `query` and `environment` filters are left out: GlitchTip ignores the one, and the other
        reads tags it fills in late (glitchtip/client.py uses neither)."""
        sort = call.request.param("sort") or "-avg_duration"
        if sort.lstrip("-") not in ("created", "avg_duration"):
            raise wire.invalid("query", "sort", "literal_error", "the double knows 'created' and 'avg_duration'")
        groups = [group for group in self.state.transaction_groups if group.project.organization is org]
        return Listing(groups, sort, show.transaction_group)

    # ---- uptime monitors (no scope checks in GlitchTip) -------------------------------------
    @endpoint("GET", ORG + "/monitors/")
    def list_monitors(self, call: Call, org: s.Organization):
        monitors = s.where(self.state.monitors, organization=org)
        return Listing(monitors, "-created", lambda monitor: show.monitor(monitor, self.domain()))

    @endpoint("POST", ORG + "/monitors/", body=schemas.MonitorIn)
    def create_monitor(self, call: Call, org: s.Organization):
        endpoint_id = uuid.uuid4() if call.body.monitor_type == "Heartbeat" else None
        monitor = s.Monitor(self.state.next_id("monitor"), org, self.clock(), endpoint_id)
        self.state.monitors.append(self._fill_monitor(monitor, call.body))
        return 201, show.monitor(monitor, self.domain())

    # A full replacement (there is no PATCH): what is left out falls back to MonitorIn's defaults,
    # `project` to none, which detaches the monitor from its project and its uptime alerts.
    @endpoint("PUT", ORG + "/monitors/{int:monitor_id}/", body=schemas.MonitorIn)
    def update_monitor(self, call: Call, org: s.Organization, monitor_id: str):
        monitor = _one(self.state.monitors, organization=org, id=int(monitor_id))
        return show.monitor(self._fill_monitor(monitor, call.body), self.domain())

    def _fill_monitor(self, monitor: s.Monitor, body: schemas.MonitorIn) -> s.Monitor:
        projects = s.where(self.state.projects, organization=monitor.organization)
        monitor.project = next((project for project in projects if str(project.id) == body.project), None)
        for field in schemas.MonitorIn.model_fields.keys() - {"project"}:
            setattr(monitor, field, getattr(body, field))
        return monitor

    @endpoint("POST", ORG + "/heartbeat_check/{uuid:endpoint_id}/", auth=None)
    def heartbeat_check(self, call: Call, org: s.Organization, endpoint_id: str):
        """What a job pings when it ran: no authentication, no body, a snake_case answer."""
        monitor = _one(self.state.monitors, organization=org, endpoint_id=uuid.UUID(endpoint_id))
        monitor.heartbeats.append(now := self.clock())
        return {"is_up": True, "start_check": now, "reason": None}

    # ---- project alerts ------------------------------------------------------------------------
    @endpoint("GET", PROJECT + "/alerts/", scopes="project:read")
    def list_alerts(self, call: Call, org: s.Organization, project: s.Project):
        return Listing(s.where(self.state.alerts, project=project), "-id", show.alert)

    @endpoint("POST", PROJECT + "/alerts/", scopes="project:write project:admin", body=schemas.AlertIn)
    def create_alert(self, call: Call, org: s.Organization, project: s.Project):
        body = call.body
        _check_alert_numbers(body, on_insert=lambda: self.state.next_id("alert"))
        alert = s.ProjectAlert(
            self.state.next_id("alert"), project, body.name or "", body.timespan_minutes, body.quantity, body.uptime
        )
        self.state.alerts.append(alert)
        # Recipients are bulk-inserted after the alert, outside a transaction: a duplicate fails the
        # unique (alert, type, url) constraint with a 500, and the alert stays without recipients.
        made = [s.AlertRecipient(self.state.next_id("recipient"), *recipient) for recipient in body.recipients()]
        if len(set(body.recipients())) != len(made):
            raise wire.server_error()
        alert.recipients = made
        return 201, show.alert(alert)

    @endpoint("PUT", PROJECT + "/alerts/{int:alert_id}/", scopes="project:write project:admin", body=schemas.AlertIn)
    def update_alert(self, call: Call, org: s.Organization, project: s.Project, alert_id: str):
        """Fields sent replace theirs; the recipients are matched on (type, url): kept (same id), added,
        and every one not sent is deleted, all of them when alertRecipients is left out."""
        alert = _one(self.state.alerts, project=project, id=int(alert_id))
        _check_alert_numbers(call.body)
        for field in call.body.model_fields_set - {"alert_recipients"}:
            setattr(alert, field, getattr(call.body, field) if field != "name" else call.body.name or "")
        kept: dict[tuple[str, str], s.AlertRecipient] = {}
        for recipient in call.body.recipients():
            found = next((r for r in alert.recipients if (r.recipient_type, r.url) == recipient), None)
            kept.setdefault(recipient, found or s.AlertRecipient(self.state.next_id("recipient"), *recipient))
        alert.recipients = list(kept.values())
        return show.alert(alert)

    # The caller's own settings: the client names them "me" (GlitchTip also takes the caller's id).
    @endpoint("GET", "users/me/notifications/alerts/")
    def get_alert_subscriptions(self, call: Call):
        return {
            str(project): status
            for (user, project), status in self.state.alert_subscriptions.items()
            if user == call.user.id
        }

    @endpoint("PUT", "users/me/notifications/alerts/", body=schemas.AlertSettingIn)
    def set_alert_subscription(self, call: Call):
        """`{project_id: status}`, one pair: 1 on, 0 off, -1 back to the user's default (the row deleted)."""
        if len(call.body.root) != 1:
            raise wire.detail(422, "Invalid alert format, expected one value")
        ((project_id, status),) = call.body.root.items()
        if status not in (1, 0, -1):
            raise wire.detail(422, "Invalid status, must be -1, 0, or 1")
        key = (call.user.id, int(project_id))
        if status == -1 and key in self.state.alert_subscriptions:
            del self.state.alert_subscriptions[key]
        else:
            self.state.alert_subscriptions[key] = status
        return 204, None

    @endpoint("GET", ORG + "/members/", scopes="member:read member:write member:admin")
    def list_members(self, call: Call, org: s.Organization):
        return Listing(s.where(self.state.memberships, organization=org), "-id", show.member)

    @endpoint("GET", TEAM + "/members/", scopes="member:read member:write member:admin")
    def list_team_members(self, call: Call, org: s.Organization, team: s.Team):
        return Listing(team.members, "-id", show.member)

    @endpoint("POST", ORG + "/members/", scopes="member:write member:admin", body=schemas.MemberIn)
    def invite_member(self, call: Call, org: s.Organization):
        """An invitation by e-mail; the member stays pending (user null) until the person accepts."""
        body = call.body
        email = body.email.lower()
        if not self.auth.registration_open() and self.state.user(email) is None:
            raise wire.detail(403, "Only existing users may be invited")
        members = s.where(self.state.memberships, organization=org)
        if any(m.user and m.user.email.lower() == email for m in members):
            raise wire.detail(409, f"The user {body.email} is already a member")
        membership = next((m for m in members if m.user is None and m.email.lower() == email), None)  # invited again
        if membership is None:
            membership = s.Membership(self.state.next_id("member"), org, body.email, body.org_role, self.clock())
            self.state.memberships.append(membership)
        slugs = {role.get("teamSlug") for role in body.team_roles}
        for team in self.state.teams:
            if team.organization is org and team.slug in slugs and membership not in team.members:
                team.members.append(membership)
        self.state.invitations_sent.append(membership)
        return 201, show.member(membership)

    @endpoint("POST", ORG + "/members/{int:member_id}/teams/{slug:team_slug}/", scopes="team:write team:admin")
    def add_member_to_team(self, call: Call, org: s.Organization, member_id: str, team: s.Team):
        membership = _one(self.state.memberships, organization=org, id=int(member_id))
        if membership not in team.members:
            team.members.append(membership)
        return 201, show.team(team, call.user, self.state.projects)

    @endpoint("GET", PROJECT + "/releases/", scopes="project:releases")
    def list_releases(self, call: Call, org: s.Organization, project: s.Project):
        return Listing(
            [release for release in self.state.releases if project in release.projects], "-created", show.release
        )

    @endpoint("POST", PROJECT + "/releases/", scopes="project:releases", body=schemas.ReleaseIn)
    def create_release(self, call: Call, org: s.Organization, project: s.Project):
        """A get-or-create: an existing version is no error, it just gains the project."""
        body = call.body
        released = body.date_released if "date_released" in body.model_fields_set else self.clock()
        return 201, show.release(self.state.link_release(project, body.version, self.clock(), released))


def _check_alert_numbers(body: schemas.AlertIn, on_insert: Callable[[], object] | None = None) -> None:
    """quantity and timespanMinutes out of a smallint's range is a database error, a 500 page: above
    32767 before the insert, below 0 by the CHECK constraint after the row took its id (`on_insert`)."""
    values = [value for value in (body.quantity, body.timespan_minutes) if value is not None]
    if any(value < 0 for value in values) and on_insert and not any(value > SMALLINT_MAX for value in values):
        on_insert()
    if any(value < 0 or value > SMALLINT_MAX for value in values):
        raise wire.server_error()


def _one(items: list, **fields):
    """The item whose attributes have these values (objects compare by identity), or a 404."""
    if (found := s.find(items, **fields)) is None:
        raise wire.not_found()
    return found
