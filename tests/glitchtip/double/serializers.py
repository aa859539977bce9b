"""The JSON shapes of GlitchTip's API objects, key for key as recorded.

Most payloads are camelCase with an upper-case `ID` suffix; the issue events list and the
heartbeat answer are snake_case (their endpoints lack django-ninja's by_alias). Ids are
strings for organizations, teams, projects and issues, integers elsewhere.
"""
from __future__ import annotations

import copy
from urllib.parse import urlsplit

from .auth import OWNER_ACCESS
from .interpret import parse_time
from .state import (
    APIToken,
    Environment,
    EnvironmentProject,
    Issue,
    IssueEvent,
    Membership,
    Monitor,
    MonitorCheck,
    Organization,
    Project,
    ProjectAlert,
    ProjectKey,
    Release,
    Team,
    TransactionGroup,
    User,
)
from .wire import timestamp

AVATAR = {"avatarType": "", "avatarUuid": None}
BREADCRUMB_LEVELS = ("fatal", "error", "warning", "info", "debug")


def api_token(token: APIToken) -> dict:
    return {"id": token.id, "label": token.label, "scopes": token.scopes, "token": token.token,
            "created": timestamp(token.created)}


def organization(org: Organization) -> dict:
    return {
        "name": org.name, "id": str(org.id), "dateCreated": timestamp(org.created),
        "status": {"id": "active", "name": "active"}, "avatar": AVATAR, "isEarlyAdopter": False,
        "require2fa": False, "slug": org.slug, "isAcceptingEvents": True, "eventThrottleRate": 0,
    }


def organization_detail(org: Organization, teams: list[Team], projects: list[Project], user: User) -> dict:
    return {**organization(org),
            "projects": [project_with_teams(project, user) for project in projects],
            "teams": [team(item, user) for item in teams],
            "access": OWNER_ACCESS, "openMembership": True}


def team(item: Team, user: User, projects: list[Project] | None = None) -> dict:
    """A team; with `projects`, the TeamProjectSchema form of team lists and creation."""
    shown = {"id": str(item.id), "slug": item.slug, "dateCreated": timestamp(item.created),
             "isMember": user in item.members, "memberCount": len(item.members)}
    if projects is not None:
        shown["projects"] = [project(entry, user) for entry in projects]
    return shown


def project(item: Project, user: User) -> dict:
    return {
        "name": item.name, "slug": item.slug, "id": str(item.id), "avatar": AVATAR, "color": "", "features": [],
        "hasAccess": True, "isBookmarked": False, "isInternal": False,
        "isMember": any(user in entry.members for entry in item.teams), "isPublic": False,
        "scrubIPAddresses": True, "dateCreated": timestamp(item.created), "platform": item.platform,
        "firstEvent": timestamp(item.first_event), "eventThrottleRate": 0,
    }


def project_with_organization(item: Project, user: User) -> dict:
    return {**project(item, user), "organization": organization(item.organization)}


def project_with_teams(item: Project, user: User) -> dict:
    return {**project(item, user), "teams": [{"id": str(entry.id), "slug": entry.slug} for entry in item.teams]}


def project_key(key: ProjectKey, domain: str) -> dict:
    url = urlsplit(domain)
    base = f"{url.netloc}{url.path.rstrip('/')}"
    dsn = f"{url.scheme}://{key.public_key.hex}@{base}/{key.project.id}"
    return {
        "name": key.name, "rateLimit": None, "dateCreated": timestamp(key.created), "id": str(key.public_key),
        "dsn": {"public": dsn, "secret": dsn,  # GlitchTip repeats the public DSN as the "secret" one
                "security": f"{url.scheme}://{base}/api/{key.project.id}/security/?glitchtip_key={key.public_key.hex}"},
        "label": key.name, "public": str(key.public_key), "projectID": key.project.id,
    }


def issue(item: Issue, domain: str) -> dict:
    return {
        "id": str(item.id), "count": str(item.count), "type": item.type, "level": item.level, "status": item.status,
        "project": {"id": str(item.project.id), "platform": item.project.platform, "slug": item.project.slug,
                    "name": item.project.name},
        "shortId": f"{item.project.slug.upper()}-{item.short_id}", "numComments": 0, "stats": {"24h": []},
        "shareId": None, "logger": None,
        # The permalink names the project, not the organization.
        "permalink": f"{domain.rstrip('/')}/{item.project.slug}/issues/{item.id}",
        "statusDetails": {}, "subscriptionDetails": None, "userCount": 0, "matchingEventId": None,
        "firstSeen": timestamp(item.first_seen), "lastSeen": timestamp(item.last_seen), "title": item.title,
        "metadata": item.metadata, "culprit": "",  # the issue's own culprit column is never filled
    }


def issue_detail(item: Issue, domain: str) -> dict:
    return {**issue(item, domain), "userReportCount": 0}


def event(item: IssueEvent, *, camel: bool = True) -> dict:
    """An event as listed: camelCase, or snake_case for the issue events list."""
    data = item.data
    names = (("eventID", "projectID", "groupID", "dateCreated", "dateReceived") if camel else
             ("event_id", "project_id", "group_id", "date_created", "date_received"))
    event_id, project_id, group_id, created, received = names
    return {
        "platform": data.get("platform"), "errors": data.get("errors"), "id": item.id, event_id: item.id,
        project_id: item.issue.project.id, group_id: str(item.issue.id), created: timestamp(item.timestamp),
        received: timestamp(item.received), "dist": None, "culprit": item.culprit, "packages": data.get("modules"),
        "type": item.type, "message": data.get("message", item.title),
        "metadata": data.get("metadata", {"title": item.title}),
        "tags": [{"key": key, "value": value} for key, value in item.tags.items()],
        "entries": entries(data), "contexts": data.get("contexts"), "context": data.get("extra"),
        "user": data.get("user"), "sdk": data.get("sdk"), "title": item.title,
    }


def event_detail(item: IssueEvent, previous: IssueEvent | None, following: IssueEvent | None) -> dict:
    return {**event(item), "userReport": None, "nextEventID": following.id if following else None,
            "previousEventID": previous.id if previous else None}


def entries(data: dict) -> list[dict]:
    """The event's interfaces as GlitchTip's get_entries lays them out for the UI."""
    result = []
    if exception := data.get("exception"):
        result.append({"type": "exception", "data": _exception_entry(exception)})
    if breadcrumbs := data.get("breadcrumbs"):
        result.append({"type": "breadcrumbs", "data": {"values": [_breadcrumb(crumb)
                                                                  for crumb in breadcrumbs.get("values", [])]}})
    if logentry := data.get("logentry"):
        result.append({"type": "message", "data": logentry})
    elif message := data.get("message"):
        result.append({"type": "message", "data": {"formatted": message}})
    return result


def _exception_entry(exception: dict) -> dict:
    """Frames get camelCase keys and a `context` of [line number, line] pairs.

    `hasSystemFrames` is true when any frame is in-app: GlitchTip's naming, not a typo here.
    """
    exception = copy.deepcopy(exception)
    exception["hasSystemFrames"] = False
    for value in exception.get("values", []):
        for frame in (value.get("stacktrace") or {}).get("frames") or []:
            if frame.get("in_app") is True:
                exception["hasSystemFrames"] = True
            for old, new in (("in_app", "inApp"), ("abs_path", "absPath"), ("colno", "colNo")):
                if old in frame:
                    frame[new] = frame.pop(old)
            if "lineno" in frame:
                frame["lineNo"] = frame.pop("lineno")
                pre_context, post_context = frame.pop("pre_context", None), frame.pop("post_context", None)
                if "context" not in frame:
                    frame["context"] = _context(frame["lineNo"], frame.get("context_line"), pre_context, post_context)
    return exception


def _context(line: int, context_line: str | None, before: list | None, after: list | None) -> list:
    """Legacy Sentry's get_context: the source around `line`, numbered."""
    if context_line is None and not (before or after):
        return []
    first = int(line) - len(before or [])
    lines = [*(before or []), context_line, *(after or [])]
    return [[first + offset, text] for offset, text in enumerate(lines)]


def _breadcrumb(crumb: dict) -> dict:
    level = crumb.get("level", "info")
    return {"type": crumb.get("type") or "default", "category": crumb.get("category"), "message": crumb.get("message"),
            "data": crumb.get("data"), "level": level if level in BREADCRUMB_LEVELS else None,
            "timestamp": timestamp(parse_time(crumb.get("timestamp"), None)), "event_id": None}


def transaction_group(group: TransactionGroup) -> dict:
    average = group.avg_duration
    return {"avgDuration": int(average) if average is not None else None, "transactionCount": group.transaction_count,
            "project": group.project.id, "id": group.id, "transaction": group.transaction, "op": group.op,
            "method": group.method}


def monitor(item: Monitor, domain: str, *, with_response_time: bool = False) -> dict:
    latest = item.latest_check
    endpoint = (f"{domain.rstrip('/')}/api/0/organizations/{item.organization.slug}/heartbeat_check/"
                f"{item.endpoint_id}/" if item.endpoint_id else None)
    checks = sorted(item.checks, key=lambda check: check.start_check, reverse=True)[:60]
    last_change = item.last_change
    return {
        "projectID": str(item.project.id) if item.project else None, "environmentID": None,
        "isUp": latest.is_up if latest else None,
        # Not through the JSON encoder: microseconds survive here.
        "lastChange": last_change.isoformat().replace("+00:00", "Z") if last_change else None,
        "heartbeatEndpoint": endpoint, "projectName": item.project.name if item.project else None, "envName": None,
        "checks": [monitor_check(check, with_response_time=with_response_time) for check in checks],
        "organizationID": item.organization.id, "monitorType": item.monitor_type, "id": item.id,
        "endpointID": str(item.endpoint_id) if item.endpoint_id else None, "created": timestamp(item.created),
        "name": item.name, "url": item.url, "expectedStatus": item.expected_status,
        "expectedBody": item.expected_body, "interval": item.interval, "timeout": item.timeout,
    }


def monitor_check(check: MonitorCheck, *, snake: bool = False, with_response_time: bool = False) -> dict:
    """A check; snake_case as the heartbeat endpoint answers, camelCase inside monitors."""
    shown = ({"is_up": check.is_up, "start_check": timestamp(check.start_check), "reason": check.reason} if snake else
             {"isUp": check.is_up, "startCheck": timestamp(check.start_check), "reason": check.reason})
    if with_response_time:
        shown["responseTime"] = None
    return shown


def alert(item: ProjectAlert) -> dict:
    """A project alert; this source does not echo a recipient's tagsToAdd (6.x does)."""
    return {"alertRecipients": [{"id": r.id, "recipientType": r.recipient_type, "url": r.url}
                                for r in sorted(item.recipients, key=lambda r: r.id)],
            "id": item.id, "name": item.name, "timespanMinutes": item.timespan_minutes, "quantity": item.quantity,
            "uptime": item.uptime}


def user(item: User) -> dict:
    return {"id": str(item.id), "options": {"timezone": None, "stacktraceOrder": None, "language": None,
                                            "clock24Hours": None, "preferredTheme": None},
            "username": item.email, "dateJoined": timestamp(item.joined), "email": item.email,
            "hasPasswordAuth": bool(item.password), "identities": [], "lastLogin": None,
            "isSuperuser": item.is_superuser, "isActive": True, "name": ""}


ROLE_NAMES = {"member": "Member", "admin": "Admin", "manager": "Manager", "owner": "Owner"}


def member(item: Membership) -> dict:
    """OrganizationUserSchema: `user` is null and `pending` true until the invitation is accepted."""
    return {"id": str(item.id), "role": item.role, "roleName": ROLE_NAMES[item.role],
            "dateCreated": timestamp(item.created), "email": item.user.email if item.user else item.email,
            "user": user(item.user) if item.user else None, "pending": item.pending,
            "isOwner": item.role == "owner"}


def release(item: Release) -> dict:
    return {
        "ref": item.ref, "dateReleased": timestamp(item.released), "version": item.version,
        "dateCreated": timestamp(item.created), "shortVersion": item.version,
        "projects": [{"name": entry.name, "slug": entry.slug} for entry in item.projects],
        "url": None, "data": {}, "deployCount": 0,
    }


def environment(item: Environment) -> dict:
    return {"id": item.id, "name": item.name}


def environment_project(link: EnvironmentProject) -> dict:
    return {"name": link.environment.name, "id": link.id, "isHidden": False}
