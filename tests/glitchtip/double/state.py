"""Everything the double knows, as plain objects that refer to each other (an issue holds its project); ids
from one sequence per kind (`start_ids_at`: as if the server held other data, as the recorded one did)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(eq=False)
class User:
    id: int
    email: str
    password: str
    is_superuser: bool
    joined: datetime


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


@dataclass(eq=False)
class Membership:
    """An organization member: invited by e-mail, pending until the person accepts; then `user` is set."""

    id: int
    organization: Organization
    email: str
    role: str
    created: datetime
    user: User | None = None


@dataclass(eq=False)
class Team:
    id: int
    organization: Organization
    slug: str
    created: datetime
    members: list[Membership]  # pending ones too


@dataclass(eq=False)
class Project:
    id: int
    organization: Organization
    name: str
    slug: str
    platform: str | None
    created: datetime
    teams: list[Team]
    public_key: uuid.UUID = field(default_factory=uuid.uuid4)  # its one DSN key (client key), made with it
    first_event: datetime | None = None


@dataclass(eq=False)
class Issue:
    id: int
    project: Project
    grouping: str  # what its events have in common
    title: str


@dataclass(eq=False)
class IssueEvent:
    id: str  # the event id as 32 hex digits
    issue: Issue
    type: str
    title: str
    culprit: str
    timestamp: datetime
    received: datetime
    data: dict  # as stored in the event's jsonb column
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
    def avg_duration(self) -> float:
        return sum(self.durations_ms) / len(self.durations_ms)


@dataclass(eq=False)
class Release:
    organization: Organization
    version: str
    created: datetime
    released: datetime | None
    projects: list[Project]


@dataclass(eq=False)
class AlertRecipient:
    id: int
    recipient_type: str
    url: str


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
class Monitor:
    id: int
    organization: Organization
    created: datetime
    endpoint_id: uuid.UUID | None  # a heartbeat monitor's
    project: Project | None = None
    monitor_type: str = "Ping"
    name: str = ""
    url: str = ""
    expected_status: int | None = None
    expected_body: str = ""
    interval: int = 60
    timeout: int | None = None
    # The double checks nothing itself: its checks are the heartbeats received, each one "up".
    heartbeats: list[datetime] = field(default_factory=list)


@dataclass
class State:
    users: list[User] = field(default_factory=list)
    tokens: list[APIToken] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    events: list[IssueEvent] = field(default_factory=list)
    transaction_groups: list[TransactionGroup] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)
    alerts: list[ProjectAlert] = field(default_factory=list)
    invitations_sent: list[Membership] = field(default_factory=list)  # the e-mails GlitchTip would have sent
    # A user's alert e-mail setting per project (UserProjectAlert): 1 on, 0 off, -1 or absent: their default.
    alert_subscriptions: dict[tuple[int, int], int] = field(default_factory=dict)
    _ids: dict[str, itertools.count] = field(default_factory=dict, repr=False)

    def next_id(self, kind: str) -> int:
        return next(self._ids.setdefault(kind, itertools.count(1)))

    def start_ids_at(self, **first_ids: int) -> None:
        """The next id of each given kind, e.g. start_ids_at(project=9, issue=46)."""
        self._ids.update({kind: itertools.count(first) for kind, first in first_ids.items()})

    def user(self, email: str) -> User | None:
        """The user with this e-mail address, in any case (as allauth's login and invitations look it up)."""
        return next((user for user in self.users if user.email.lower() == email.lower()), None)

    def link_release(self, project: Project, version: str, created: datetime, released: datetime | None) -> Release:
        """A get-or-create of the organization's release `version`, which then lists `project`."""
        release = find(self.releases, organization=project.organization, version=version)
        if release is None:
            release = Release(project.organization, version, created, released, [])
            self.releases.append(release)
        if project not in release.projects:
            release.projects.append(project)
        return release

    def organizations_of(self, user: User) -> list[Organization]:
        return [membership.organization for membership in self.memberships if membership.user is user]

    def alert_recipients(self, project: Project) -> list[User]:
        """Whom an e-mail alert of `project` reaches (User.objects.alert_notification_recipients):
        accepted members of its teams, minus those who turned the project off."""
        users = {id(m.user): m.user for team in project.teams for m in team.members if m.user}.values()
        return [user for user in users if self.alert_subscriptions.get((user.id, project.id)) != 0]


def where(items: list, **fields) -> list:
    """The items whose attributes have these values (objects compare by identity)."""
    return [item for item in items if all(getattr(item, name) == value for name, value in fields.items())]


def find(items: list, **fields):
    """The first item whose attributes have these values, or None."""
    return next(iter(where(items, **fields)), None)
