"""Everything the double knows, as plain objects: users, tokens, organizations ... events.

Objects refer to each other directly (an issue holds its project), the way the serializers
need them. Ids come from one sequence per kind; `State.start_ids_at` lets a test pretend the
server already held other data, as the recorded one did.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(eq=False)
class User:
    id: int
    email: str
    password: str  # empty: no usable password (set one by "Forgot password")
    is_superuser: bool = False
    joined: datetime | None = None


@dataclass(eq=False)
class APIToken:
    id: int
    user: User
    label: str
    scopes: list[str]
    token: str
    created: datetime


@dataclass(eq=False)
class Organization:
    id: int
    name: str
    slug: str
    created: datetime
    members: list[User]


@dataclass(eq=False)
class Membership:
    """An organization member (OrganizationUser): invited by e-mail, pending until the person
    accepts with their own login; then `user` is set."""
    id: int
    organization: Organization
    email: str
    role: str
    created: datetime
    user: User | None = None
    token: str = ""  # the invitation link's token

    @property
    def pending(self) -> bool:
        return self.user is None


@dataclass(eq=False)
class Team:
    id: int
    organization: Organization
    slug: str
    created: datetime
    members: list[User]
    invited: list[Membership] = field(default_factory=list)  # pending members added to the team


@dataclass(eq=False)
class Project:
    id: int
    organization: Organization
    name: str
    slug: str
    platform: str | None
    created: datetime
    teams: list[Team]
    first_event: datetime | None = None
    issue_counter: int = 0


@dataclass(eq=False)
class ProjectKey:
    project: Project
    public_key: uuid.UUID
    created: datetime
    name: str = ""


@dataclass(eq=False)
class Issue:
    id: int
    project: Project
    short_id: int
    type: str
    level: str
    title: str
    metadata: dict
    grouping: str
    search_text: str
    first_seen: datetime
    last_seen: datetime
    count: int = 0
    status: str = "unresolved"


@dataclass(eq=False)
class IssueEvent:
    id: str  # the event id as 32 hex digits
    issue: Issue
    type: str
    title: str
    culprit: str
    timestamp: datetime
    received: datetime
    data: dict
    tags: dict[str, str]


@dataclass(eq=False)
class TransactionGroup:
    id: int
    project: Project
    transaction: str
    op: str
    method: str
    created: datetime
    durations_ms: list[float] = field(default_factory=list)

    @property
    def transaction_count(self) -> int:
        return len(self.durations_ms)

    @property
    def avg_duration(self) -> float | None:
        return sum(self.durations_ms) / len(self.durations_ms) if self.durations_ms else None


@dataclass(eq=False)
class Release:
    organization: Organization
    version: str
    created: datetime
    released: datetime | None
    projects: list[Project]
    ref: str | None = None


@dataclass(eq=False)
class Environment:
    id: int
    organization: Organization
    name: str
    created: datetime


@dataclass(eq=False)
class EnvironmentProject:
    id: int
    environment: Environment
    project: Project
    created: datetime


@dataclass(eq=False)
class AlertRecipient:
    id: int
    recipient_type: str
    url: str
    tags_to_add: tuple[str, ...] = ()


@dataclass(eq=False)
class ProjectAlert:
    id: int
    project: Project
    name: str
    timespan_minutes: int | None
    quantity: int | None
    uptime: bool
    recipients: list[AlertRecipient] = field(default_factory=list)


@dataclass(eq=False)
class MonitorCheck:
    is_up: bool
    is_change: bool
    start_check: datetime
    reason: int | None = None


@dataclass(eq=False)
class Monitor:
    id: int
    organization: Organization
    project: Project | None
    monitor_type: str
    name: str
    url: str
    expected_status: int | None
    expected_body: str
    interval: int
    timeout: int | None
    endpoint_id: uuid.UUID | None
    created: datetime
    checks: list[MonitorCheck] = field(default_factory=list)

    @property
    def latest_check(self) -> MonitorCheck | None:
        return max(self.checks, key=lambda check: check.start_check, default=None)

    @property
    def last_change(self) -> datetime | None:
        changes = [check.start_check for check in self.checks if check.is_change]
        return max(changes, default=None)


@dataclass
class State:
    users: list[User] = field(default_factory=list)
    tokens: list[APIToken] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    keys: list[ProjectKey] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    events: list[IssueEvent] = field(default_factory=list)
    transaction_groups: list[TransactionGroup] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)
    environment_projects: list[EnvironmentProject] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    # Invitation e-mails GlitchTip would have sent, oldest first.
    invitations_sent: list[Membership] = field(default_factory=list)
    alerts: list[ProjectAlert] = field(default_factory=list)
    # A user's alert e-mail setting per project (UserProjectAlert): 1 on, 0 off; absent: their default.
    alert_subscriptions: dict[tuple[int, int], int] = field(default_factory=dict)
    _ids: dict[str, itertools.count] = field(default_factory=dict, repr=False)

    def next_id(self, kind: str) -> int:
        return next(self._ids.setdefault(kind, itertools.count(1)))

    def start_ids_at(self, **first_ids: int) -> None:
        """The next id of each given kind, e.g. start_ids_at(project=9, issue=46)."""
        for kind, first in first_ids.items():
            self._ids[kind] = itertools.count(first)

    # ---- lookups, each limited to what `user` may see ----------------------
    def organization(self, user: User, slug: str) -> Organization | None:
        return next((org for org in self.organizations if org.slug == slug and user in org.members), None)

    def project(self, user: User, org_slug: str, slug: str) -> Project | None:
        return next((project for project in self.projects if project.slug == slug
                     and project.organization.slug == org_slug and user in project.organization.members), None)

    def project_by_id(self, project_id: int) -> Project | None:
        return next((project for project in self.projects if project.id == project_id), None)

    def issue(self, user: User, issue_id: int) -> Issue | None:
        return next((issue for issue in self.issues
                     if issue.id == issue_id and user in issue.project.organization.members), None)

    def membership(self, user: User, org: Organization) -> Membership | None:
        return next((m for m in self.memberships if m.organization is org and m.user is user), None)

    def alert_recipients(self, project: Project) -> list[User]:
        """Whom an e-mail alert of `project` reaches (User.objects.alert_notification_recipients):
        accepted members of its teams, minus those who turned the project off (or are off by default)."""
        users = {id(user): user for team in project.teams for user in team.members}.values()
        return [user for user in users if self.alert_subscriptions.get((user.id, project.id), 1) != 0]

    def keys_of(self, project: Project) -> list[ProjectKey]:
        return [key for key in self.keys if key.project is project]

    def events_of(self, *, project: Project | None = None, issue: Issue | None = None) -> list[IssueEvent]:
        return [event for event in self.events
                if (project is None or event.issue.project is project) and (issue is None or event.issue is issue)]
