"""The `/api/0/` endpoints (django-ninja on the real server): those recorded, and those the scripts call.

Each endpoint declares how it is reached the way GlitchTip's routers do: who may call it
(token or session, session only, anyone), the token scopes it needs (any one of them), and
its request body. The checks run in django-ninja's order: authentication (401/403), body
(400/422), scopes (403 "Permission denied"), then the view itself (404 ...).

Adding an endpoint: a method with an `@endpoint(...)` decorator that returns a dict (200), a
(status, dict) pair, or a `Listing` (paginated), and raises `wire.Reply` errors.
"""
from __future__ import annotations

import random
import re
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
from .state import Issue, Monitor, MonitorCheck, Organization, Project, ProjectKey, Release, State, Team
from .validation import Field, payload

ORG_READ = ("org:read", "org:write", "org:admin")
PROJECT_READ = ("project:read", "project:write", "project:admin")
PROJECT_WRITE = ("project:write", "project:admin")
EVENT_READ = ("event:read", "event:write", "event:admin")
RELEASES = ("project:releases",)
MONITOR_TYPES = ("Ping", "GET", "POST", "TCP Port", "SSL", "Heartbeat")
HTTP_MONITOR_TYPES = ("Ping", "GET", "POST")
ISSUE_SORTS = ("last_seen", "first_seen", "count")
TRANSACTION_GROUP_SORTS = ("created", "avg_duration", "transaction_count")
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
    def __init__(self, state: State, sessions: Sessions, clock: Callable[[], datetime], domain: Callable[[], str]):
        self.state = state
        self.sessions = sessions
        self.clock = clock
        self.domain = domain

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

    # Every field must be sent, even empty (expectedBody "", timeout null): pydantic requires them.
    @endpoint("POST", "organizations/{slug:org_slug}/monitors/",
              body=(Field("monitorType", str, "Ping"), Field("name", str), Field("url", str, ""),
                    Field("interval", int, 60), Field("expectedBody", str),
                    Field("expectedStatus", int, nullable=True), Field("timeout", int, nullable=True),
                    Field("project", str, None, nullable=True)))
    def create_monitor(self, call: Call, org_slug: str):
        body = call.body
        _check_monitor(body)
        org = self._organization(call, org_slug)
        project = next((project for project in self.state.projects
                        if project.organization is org and str(project.id) == body["project"]), None)
        monitor = Monitor(self.state.next_id("monitor"), org, project, body["monitorType"], body["name"], body["url"],
                          body["expectedStatus"], body["expectedBody"], body["interval"], body["timeout"],
                          uuid.uuid4() if body["monitorType"] == "Heartbeat" else None, self.clock())
        self.state.monitors.append(monitor)
        return 201, show.monitor(monitor, self.domain())

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
