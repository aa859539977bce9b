"""Driving the double as a client would, for the double's own tests: a user with a token, an
organization, a team and a project created through the API, and events sent as the SDK sends them."""
from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass

import requests

from tests.glitchtip.double import GlitchTipDouble
from tests.glitchtip.double.state import Project, User

EMAIL = "ops@example.com"
PASSWORD = "a-Long-test-passw0rd"


@dataclass
class Account:
    """A user's view of the double through a full-scope API token, and a sender of events."""
    double: GlitchTipDouble
    user: User
    token: str
    org: str = ""  # set by make_account, once created through the API
    project: Project | None = None

    @property
    def key(self) -> str:
        return self.double.state.keys_of(self.project)[0].public_key.hex

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.double.url + path, headers=self._auth(kwargs), timeout=5, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        return requests.post(self.double.url + path, json=body, headers=self._auth(kwargs), timeout=5, **kwargs)

    def _auth(self, kwargs: dict) -> dict:
        return {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}

    def send_event(self, *, key: str | None = None, project_id: int | None = None, **fields) -> requests.Response:
        """A message event in a gzipped envelope, as the Python SDK sends it; `fields` override."""
        event = {"event_id": uuid.uuid4().hex, "message": "something happened", "level": "error",
                 "platform": "python", **fields}
        return self.send_envelope({"event_id": event["event_id"]}, [("event", event)], key=key, project_id=project_id)

    def send_envelope(self, header: dict, items: list[tuple[str, dict]], *, key: str | None = None,
                      project_id: int | None = None) -> requests.Response:
        lines = [json.dumps(header)]
        for kind, item in items:
            body = json.dumps(item)
            lines += [json.dumps({"type": kind, "length": len(body.encode())}), body]
        return requests.post(
            f"{self.double.url}/api/{project_id or self.project.id}/envelope/",
            data=gzip.compress(("\n".join(lines) + "\n").encode()), timeout=5,
            headers={"Content-Type": "application/x-sentry-envelope", "Content-Encoding": "gzip",
                     "X-Sentry-Auth": f"Sentry sentry_key={key or self.key}, sentry_version=7"})

    def store(self, event: dict, *, key: str | None = None) -> requests.Response:
        return requests.post(f"{self.double.url}/api/{self.project.id}/store/", json=event, timeout=5,
                             headers={"X-Sentry-Auth": f"Sentry sentry_key={key or self.key}, sentry_version=7"})


def make_account(double: GlitchTipDouble) -> Account:
    """A superuser with a token, organization "Acme", team "ops" and project "Web" (slug "web")."""
    user = double.create_user(EMAIL, PASSWORD, superuser=True)
    account = Account(double, user, double.create_token(user))
    account.org = account.post("/api/0/organizations/", {"name": "Acme"}).json()["slug"]
    account.post(f"/api/0/organizations/{account.org}/teams/", {"slug": "ops"})
    account.post(f"/api/0/teams/{account.org}/ops/projects/", {"name": "Web", "platform": "python"})
    account.project = double.state.projects[-1]
    return account


def browser_login(double: GlitchTipDouble, email: str = EMAIL, password: str = PASSWORD) -> requests.Session:
    """allauth's browser flow: the config call sets the CSRF cookie, the login echoes it."""
    session = requests.Session()
    session.get(f"{double.url}/_allauth/browser/v1/config", timeout=5)
    session.post(f"{double.url}/_allauth/browser/v1/auth/login", json={"email": email, "password": password},
                 headers={"X-CSRFToken": session.cookies["csrftoken"]}, timeout=5).raise_for_status()
    return session
