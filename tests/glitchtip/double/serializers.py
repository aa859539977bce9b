"""The JSON shapes of GlitchTip's API objects, key for key as recorded (events: events.py): mostly camelCase
with an upper-case `ID` suffix; ids are strings for organizations, teams, projects and members, else integers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic.alias_generators import to_camel

from . import state as s
from .auth import SCOPES

AVATAR = {"avatarType": "", "avatarUuid": None}
# An organization owner's `access` (a Python set on the server, so in no fixed order): every token scope.
OWNER_ACCESS = [*SCOPES, "org:integrations"]


def fields(item, *names: str) -> dict:
    """These attributes of `item`, under their camelCase names."""
    return {to_camel(name): getattr(item, name) for name in names}


def api_token(token: s.APIToken) -> dict:
    return fields(token, "id", "label", "scopes", "token", "created")


def organization(org: s.Organization) -> dict:
    return {
        "name": org.name,
        "id": str(org.id),
        "dateCreated": org.created,
        "status": {"id": "active", "name": "active"},
        "avatar": AVATAR,
        "isEarlyAdopter": False,
        "require2fa": False,
        "slug": org.slug,
        "isAcceptingEvents": True,
        "eventThrottleRate": 0,
    }


def new_organization(org: s.Organization) -> dict:
    """As a create answers: the organization's detail, nothing in it yet."""
    return {**organization(org), "projects": [], "teams": [], "access": OWNER_ACCESS, "openMembership": True}


def team(item: s.Team, user: s.User, projects: list[s.Project]) -> dict:
    """With the team's projects among `projects`, by name."""
    return {
        "id": str(item.id),
        "slug": item.slug,
        "dateCreated": item.created,
        "isMember": any(m.user is user for m in item.members),
        "memberCount": len(item.members),
        "projects": [project(entry, user) for entry in sorted(projects, key=lambda p: p.name) if item in entry.teams],
    }


def project(item: s.Project, user: s.User) -> dict:
    return {
        "name": item.name,
        "slug": item.slug,
        "id": str(item.id),
        "avatar": AVATAR,
        "color": "",
        "features": [],
        "hasAccess": True,
        "isBookmarked": False,
        "isInternal": False,
        "isMember": any(m.user is user for team in item.teams for m in team.members),
        "isPublic": False,
        "scrubIPAddresses": True,
        "dateCreated": item.created,
        "platform": item.platform,
        "firstEvent": item.first_event,
        "eventThrottleRate": 0,
    }


def project_with_teams(item: s.Project, user: s.User) -> dict:
    return {**project(item, user), "teams": [{"id": str(entry.id), "slug": entry.slug} for entry in item.teams]}


def project_key(project: s.Project, domain: str) -> dict:
    """The project's client key; GlitchTip repeats the public DSN as the "secret" one."""
    url, key = urlsplit(domain), project.public_key
    base = f"{url.netloc}{url.path.rstrip('/')}"
    dsn = f"{url.scheme}://{key.hex}@{base}/{project.id}"
    security = f"{url.scheme}://{base}/api/{project.id}/security/?glitchtip_key={key.hex}"
    return {
        "name": "",
        "rateLimit": None,
        "dateCreated": project.created,
        "id": str(key),
        "label": "",
        "dsn": {"public": dsn, "secret": dsn, "security": security},
        "public": str(key),
        "projectID": project.id,
    }


def transaction_group(group: s.TransactionGroup) -> dict:
    return {
        **fields(group, "id", "transaction", "op", "method"),
        "avgDuration": int(group.avg_duration),
        "transactionCount": len(group.durations_ms),
        "project": group.project.id,
    }


def monitor(item: s.Monitor, domain: str) -> dict:
    beats = sorted(item.heartbeats, reverse=True)
    endpoint = f"{domain.rstrip('/')}/api/0/organizations/{item.organization.slug}/heartbeat_check/{item.endpoint_id}/"
    return {
        "projectID": str(item.project.id) if item.project else None,
        "environmentID": None,
        "isUp": True if beats else None,
        # The first heartbeat turned it up, its last change. Not through the JSON encoder: microseconds survive.
        "lastChange": beats[-1].isoformat().replace("+00:00", "Z") if beats else None,
        "heartbeatEndpoint": endpoint if item.endpoint_id else None,
        "projectName": item.project.name if item.project else None,
        "envName": None,
        "checks": [{"isUp": True, "startCheck": beat, "reason": None} for beat in beats[:60]],
        "organizationID": item.organization.id,
        "endpointID": str(item.endpoint_id) if item.endpoint_id else None,
        **fields(item, "id", "created", "monitor_type", "name", "url", "expected_status", "expected_body"),
        **fields(item, "interval", "timeout"),
    }


def alert(item: s.ProjectAlert) -> dict:
    return {
        "alertRecipients": [
            {"id": r.id, "recipientType": r.recipient_type, "url": r.url}
            for r in sorted(item.recipients, key=lambda r: r.id)
        ],
        **fields(item, "id", "name", "timespan_minutes", "quantity", "uptime"),
    }


def user(item: s.User) -> dict:
    return {
        "id": str(item.id),
        "options": dict.fromkeys(("timezone", "stacktraceOrder", "language", "clock24Hours", "preferredTheme")),
        "username": item.email,
        "dateJoined": item.joined,
        "email": item.email,
        "hasPasswordAuth": bool(item.password),
        "identities": [],
        "lastLogin": None,
        "isSuperuser": item.is_superuser,
        "isActive": True,
        "name": "",
    }


def member(item: s.Membership) -> dict:
    """OrganizationUserSchema: `user` is null and `pending` true until the invitation is accepted."""
    return {
        "id": str(item.id),
        "role": item.role,
        "roleName": item.role.capitalize(),
        "dateCreated": item.created,
        "email": item.user.email if item.user else item.email,
        "user": user(item.user) if item.user else None,
        "pending": item.user is None,
        "isOwner": item.role == "owner",
    }


def release(item: s.Release) -> dict:
    return {
        "ref": None,
        "dateReleased": item.released,
        "version": item.version,
        "dateCreated": item.created,
        "shortVersion": item.version,
        "projects": [{"name": entry.name, "slug": entry.slug} for entry in item.projects],
        "url": None,
        "data": {},
        "deployCount": 0,
    }
