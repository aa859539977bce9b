"""Fixtures for the GlitchTip double's own tests: a fresh double on a hand-driven clock, and a
user with an organization, a team and a project, created through the API as a script would."""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass

import pytest
import requests

from tests.glitchtip.double import GlitchTipDouble, ManualClock
from tests.glitchtip.double.state import Project

PASSWORD = "a-Long-test-passw0rd"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def glitchtip(clock):
    double = GlitchTipDouble(clock=clock).start()
    yield double
    double.stop()


@dataclass
class Account:
    """A superuser's view of the double through a full-scope API token."""
    double: GlitchTipDouble
    api: requests.Session
    org: str
    project: Project

    def url(self, path: str) -> str:
        return self.double.url + path

    def envelope(self, event_id: str, *items: tuple[str, dict]) -> requests.Response:
        """Items in a gzipped envelope, as the Python SDK sends them."""
        lines = [json.dumps({"event_id": event_id})]
        for kind, item in items:
            lines += [json.dumps({"type": kind}), json.dumps(item)]
        key = self.double.state.keys_of(self.project)[0].public_key.hex
        return requests.post(self.url(f"/api/{self.project.id}/envelope/"), timeout=5,
                             data=gzip.compress(("\n".join(lines) + "\n").encode()),
                             headers={"Content-Encoding": "gzip", "X-Sentry-Auth": f"Sentry sentry_key={key}"})


@pytest.fixture
def account(glitchtip) -> Account:
    """admin@example.com with a token, organization "Acme", team "ops" and project "Web" (slug "web")."""
    api = requests.Session()
    admin = glitchtip.create_user("admin@example.com", PASSWORD, superuser=True)
    api.headers["Authorization"] = f"Bearer {glitchtip.create_token(admin)}"
    org = api.post(f"{glitchtip.url}/api/0/organizations/", json={"name": "Acme"}, timeout=5).json()["slug"]
    api.post(f"{glitchtip.url}/api/0/organizations/{org}/teams/", json={"slug": "ops"}, timeout=5)
    api.post(f"{glitchtip.url}/api/0/teams/{org}/ops/projects/", json={"name": "Web"}, timeout=5)
    return Account(glitchtip, api, org, glitchtip.state.projects[-1])
