"""The JSON shapes of GlitchTip's API objects, key for key as recorded (events: events.py).

Most payloads are camelCase with an upper-case `ID` suffix; the heartbeat answer is snake_case.
Ids are strings for organizations, teams, projects and members, integers elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from . import state as s

AVATAR = {"avatarType": "", "avatarUuid": None}
# An organization owner's `access`: a Python set on the server, listed in the recorded order.
OWNER_ACCESS = [
    "member:write",
    "org:integrations",
    "project:read",
    "project:releases",
    "team:write",
    "org:read",
    "org:admin",
    "team:read",
    "member:admin",
    "member:read",
    "project:admin",
    "event:admin",
    "project:write",
    "event:read",
    "org:write",
    "event:write",
    "team:admin",
]


def api_token(token: s.APIToken) -> dict:
    return {
        "id": token.id,
        "label": token.label,
        "scopes": token.scopes,
        "token": token.token,
        "created": token.created,
    }


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
    return {
        "id": str(item.id),
        "slug": item.slug,
        "dateCreated": item.created,
        "isMember": any(m.user is user for m in item.members),
        "memberCount": len(item.members),
        "projects": [project(entry, user) for entry in projects],
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
    return {
        "name": "",
        "rateLimit": None,
        "dateCreated": project.created,
        "id": str(key),
        "label": "",
        "dsn": {
            "public": dsn,
            "secret": dsn,
            "security": f"{url.scheme}://{base}/api/{project.id}/security/?glitchtip_key={key.hex}",
        },
        "public": str(key),
        "projectID": project.id,
    }


def transaction_group(group: s.TransactionGroup) -> dict:
    return {
        "avgDuration": int(group.avg_duration),
        "transactionCount": len(group.durations_ms),
        "project": group.project.id,
        "id": group.id,
        "transaction": group.transaction,
        "op": group.op,
        "method": group.method,
    }


def monitor(item: s.Monitor, domain: str) -> dict:
    beats = sorted(item.heartbeats, reverse=True)
    endpoint = (
        f"{domain.rstrip('/')}/api/0/organizations/{item.organization.slug}/heartbeat_check/{item.endpoint_id}/"
        if item.endpoint_id
        else None
    )
    return {
        "projectID": str(item.project.id) if item.project else None,
        "environmentID": None,
        "isUp": True if beats else None,
        # The first heartbeat turned it up, its last change. Not through the JSON encoder: microseconds survive.
        "lastChange": beats[-1].isoformat().replace("+00:00", "Z") if beats else None,
        "heartbeatEndpoint": endpoint,
        "projectName": item.project.name if item.project else None,
        "envName": None,
        "checks": [{"isUp": True, "startCheck": beat, "reason": None} for beat in beats[:60]],
        "organizationID": item.organization.id,
        "monitorType": item.monitor_type,
        "id": item.id,
        "endpointID": str(item.endpoint_id) if item.endpoint_id else None,
        "created": item.created,
        "name": item.name,
        "url": item.url,
        "expectedStatus": item.expected_status,
        "expectedBody": item.expected_body,
        "interval": item.interval,
        "timeout": item.timeout,
    }


def alert(item: s.ProjectAlert) -> dict:
    return {
        "alertRecipients": [
            {"id": r.id, "recipientType": r.recipient_type, "url": r.url}
            for r in sorted(item.recipients, key=lambda r: r.id)
        ],
        "id": item.id,
        "name": item.name,
        "timespanMinutes": item.timespan_minutes,
        "quantity": item.quantity,
        "uptime": item.uptime,
    }


def user(item: s.User) -> dict:
    return {
        "id": str(item.id),
        "options": {
            "timezone": None,
            "stacktraceOrder": None,
            "language": None,
            "clock24Hours": None,
            "preferredTheme": None,
        },
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
