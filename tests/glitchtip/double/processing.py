"""The worker: turns accepted items into events, issues, transaction groups, releases, environments.

GlitchTip does this in Celery (process_issue_events / process_transaction_events). The double
runs it lazily: before answering any request it processes every item whose delay has passed,
as of the moment it became due.
"""
from __future__ import annotations

from datetime import datetime

from .ingest import Pending
from .interpret import interpret, parse_time
from .state import Environment, EnvironmentProject, Issue, IssueEvent, Project, Release, State, TransactionGroup


class Worker:
    def __init__(self, state: State):
        self.state = state

    def process(self, item: Pending) -> None:
        project, payload, now = item.project, item.payload, item.due
        if project.first_event is None:
            project.first_event = now
        if release := payload.get("release"):
            self._link_release(project, str(release), now)
        if environment := payload.get("environment"):
            self._link_environment(project, str(environment)[:255], now)
        if item.kind == "event":
            self._store_event(item)
        else:
            self._store_transaction(item)

    def _store_event(self, item: Pending) -> None:
        found = interpret(item.payload)
        issue = next((issue for issue in self.state.issues
                      if issue.project is item.project and issue.grouping == found.grouping), None)
        if issue is None:
            item.project.issue_counter += 1
            issue = Issue(id=self.state.next_id("issue"), project=item.project, short_id=item.project.issue_counter,
                          type=found.type, level=found.level or "error", title=found.title, metadata=found.metadata,
                          grouping=found.grouping, search_text=found.search_text,
                          first_seen=item.received, last_seen=item.received, count=1)
            self.state.issues.append(issue)
        else:
            issue.count += 1
            issue.last_seen = max(issue.last_seen, item.received)
        self.state.events.append(IssueEvent(
            id=item.payload["event_id"], issue=issue, type=found.type, title=found.title, culprit=found.culprit,
            timestamp=parse_time(item.payload.get("timestamp"), item.received), received=item.received,
            data=found.data, tags=found.tags))

    def _store_transaction(self, item: Pending) -> None:
        payload = item.payload
        trace = (payload.get("contexts") or {}).get("trace")
        if not isinstance(trace, dict) or "transaction" not in payload:
            return  # GlitchTip's schema rejects it
        method = (payload.get("request") or {}).get("method") or ""
        key = (str(payload["transaction"])[:1024], str(trace.get("op", "")), method)
        group = next((group for group in self.state.transaction_groups
                      if group.project is item.project and (group.transaction, group.op, group.method) == key), None)
        if group is None:
            group = TransactionGroup(self.state.next_id("transaction_group"), item.project, *key, created=item.due)
            self.state.transaction_groups.append(group)
        start = parse_time(payload.get("start_timestamp"), item.received)
        end = parse_time(payload.get("timestamp"), item.received)
        group.durations_ms.append((end - start).total_seconds() * 1000)

    def _link_release(self, project: Project, version: str, now: datetime) -> None:
        """Releases seen in events are created on the fly, without a release date."""
        release = next((release for release in self.state.releases
                        if release.organization is project.organization and release.version == version), None)
        if release is None:
            release = Release(project.organization, version, created=now, released=None, projects=[])
            self.state.releases.append(release)
        if project not in release.projects:
            release.projects.append(project)

    def _link_environment(self, project: Project, name: str, now: datetime) -> None:
        environment = next((environment for environment in self.state.environments
                            if environment.organization is project.organization and environment.name == name), None)
        if environment is None:
            environment = Environment(self.state.next_id("environment"), project.organization, name, now)
            self.state.environments.append(environment)
        if not any(link.environment is environment and link.project is project
                   for link in self.state.environment_projects):
            self.state.environment_projects.append(
                EnvironmentProject(self.state.next_id("environment_project"), environment, project, now))
