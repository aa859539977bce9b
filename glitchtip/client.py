"""A small typed client for the parts of GlitchTip's API the scripts use.

Written against exchanges recorded from a real GlitchTip (5.2 to 6.0 line) and checked against
a live one. Quirks it deals with:
- creates are not idempotent (a second organization or project gets a new slug, a duplicate
  team slug is a 500 HTML page), so callers look before they create;
- paginated lists send a `Link` header that is the Python repr of a set, with absolute URLs
  built from GlitchTip's public domain, so only the cursor is taken from it;
- allauth's headless login needs the csrftoken cookie echoed in X-CSRFToken, and rotates it;
- API tokens can only be created with a session, never with another token;
- alerts and monitors have no PATCH: a PUT of an alert replaces its recipients (those left out
  are deleted) and a PUT of a monitor replaces the whole monitor (a left-out `project` detaches
  it from its project), so updates always send every field;
- an alert's e-mail recipient takes no address: GlitchTip mails the accepted members of the
  project's teams, so people are invited to the team (members), not named in the alert.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

LINK_ENTRY = re.compile(r'<([^>]*)>;\s*rel="(\w+)";\s*results="(true|false)"(?:;\s*cursor="([^"]*)")?')


class GlitchTipError(Exception):
    """A request GlitchTip refused or could not answer; `status` is None when it was unreachable."""

    def __init__(self, message: str, status: int | None = None, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.detail = detail


class GlitchTipCertificateError(GlitchTipError):
    """GlitchTip answered over https with a certificate that does not verify against the CA given."""


@dataclass(frozen=True)
class Organization:
    id: str
    slug: str
    name: str

    @classmethod
    def from_api(cls, o: dict) -> Organization:
        return cls(str(o["id"]), o["slug"], o["name"])


@dataclass(frozen=True)
class Team:
    id: str
    slug: str

    @classmethod
    def from_api(cls, t: dict) -> Team:
        return cls(str(t["id"]), t["slug"])


@dataclass(frozen=True)
class Project:
    id: str
    slug: str
    name: str

    @classmethod
    def from_api(cls, p: dict) -> Project:
        return cls(str(p["id"]), p["slug"], p["name"])


@dataclass(frozen=True)
class ProjectKey:
    id: str
    public_dsn: str


@dataclass(frozen=True)
class Monitor:
    id: int
    name: str
    monitor_type: str
    url: str
    interval: int
    heartbeat_endpoint: str | None
    project_id: str | None = None
    expected_status: int | None = None
    expected_body: str = ""
    timeout: int | None = None

    @classmethod
    def from_api(cls, m: dict) -> Monitor:
        project = m.get("projectID")
        return cls(
            int(m["id"]),
            m["name"],
            m["monitorType"],
            m.get("url") or "",
            int(m["interval"]),
            m.get("heartbeatEndpoint"),
            str(project) if project is not None else None,
            m.get("expectedStatus"),
            m.get("expectedBody") or "",
            m.get("timeout"),
        )

    def body(self) -> dict:
        """The whole monitor as MonitorIn takes it (a PUT replaces every field)."""
        return {
            "monitorType": self.monitor_type,
            "name": self.name,
            "url": self.url,
            "interval": self.interval,
            "expectedBody": self.expected_body,
            "expectedStatus": self.expected_status,
            "timeout": self.timeout,
            "project": self.project_id,
        }


@dataclass(frozen=True, order=True)
class Recipient:
    """Where an alert goes: `email` (the project's team members; url empty), or a chat webhook
    (`webhook` Slack-compatible, `discord`, `googlechat`) at `url`."""

    recipient_type: str
    url: str = ""

    def body(self) -> dict:
        return {"recipientType": self.recipient_type, "url": self.url}


@dataclass(frozen=True)
class Alert:
    id: int
    name: str
    timespan_minutes: int | None
    quantity: int | None
    uptime: bool
    recipients: frozenset[Recipient]

    @classmethod
    def from_api(cls, a: dict) -> Alert:
        return cls(
            int(a["id"]),
            a.get("name") or "",
            a.get("timespanMinutes"),
            a.get("quantity"),
            bool(a.get("uptime")),
            frozenset(Recipient(r["recipientType"], r.get("url") or "") for r in a.get("alertRecipients", [])),
        )


@dataclass(frozen=True)
class Member:
    """A member of an organization (or of a team); `pending` until the invited person accepts."""

    id: str
    email: str
    pending: bool

    @classmethod
    def from_api(cls, m: dict) -> Member:
        user = m.get("user") or {}
        return cls(str(m["id"]), (m.get("email") or user.get("email") or ""), bool(m.get("pending")))


@dataclass(frozen=True)
class Token:
    id: int
    label: str
    scopes: tuple[str, ...]
    value: str = field(default="", repr=False)


def next_cursor(link_header: str) -> str | None:
    """The cursor of the next page from GlitchTip's `{'<url>; rel="next"; results="true"; cursor="..."'}`."""
    for url, rel, results, cursor in LINK_ENTRY.findall(link_header or ""):
        if rel == "next" and results == "true":
            return cursor or parse_qs(urlsplit(url).query).get("cursor", [None])[0]
    return None


def hex_key(key: str) -> str:
    """A DSN key in the 32-hex form, whether given as hex or as a dashed UUID."""
    return uuid.UUID(key).hex


class GlitchTipClient:
    def __init__(self, base_url: str, token: str = "", timeout: float = 15.0, verify: str | bool = True):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # https: the CA file to verify GlitchTip's certificate against (True: the public CAs). Given with
        # each request, because a session's own `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify = verify
        # Two sessions: with its cookies, a failed token would silently fall back to the login
        # session on reads (and then fail the CSRF check on writes).
        self.browser = requests.Session()
        self.api = requests.Session()
        for http in (self.browser, self.api):
            http.headers["User-Agent"] = "migraine-forecast-scripts/1.0"
        self.token = token

    # ---- transport -------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: dict | None = None,
        expected: tuple[int, ...] = (200,),
        auth: bool = True,
    ) -> requests.Response:
        headers = {}
        http = self.browser
        if auth and self.token:
            http = self.api
            headers["Authorization"] = f"Bearer {self.token}"
        elif method not in ("GET", "HEAD") and "csrftoken" in self.browser.cookies:
            headers["X-CSRFToken"] = self.browser.cookies["csrftoken"]  # session auth needs it on unsafe methods
        try:
            response = http.request(
                method,
                f"{self.base_url}{path}",
                json=json,
                params=params,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
            )
        except requests.exceptions.SSLError as exc:
            trusted = self.verify if isinstance(self.verify, str) else "the public CAs"
            raise GlitchTipCertificateError(
                f"GlitchTip's certificate at {self.base_url} does not verify against {trusted} ({exc})"
            ) from exc
        except requests.RequestException as exc:
            raise GlitchTipError(f"GlitchTip is not reachable at {self.base_url} ({exc.__class__.__name__})") from exc
        if response.status_code not in expected:
            raise GlitchTipError(
                f"{method} {path} answered {response.status_code}", response.status_code, _detail(response)
            )
        return response

    def get_all(self, path: str, params: dict | None = None, limit: int = 100) -> list[dict]:
        """Every item of a paginated list, following the cursor."""
        items, cursor = [], None
        while True:
            query = {**(params or {}), "limit": limit, **({"cursor": cursor} if cursor else {})}
            response = self.request("GET", path, params=query)
            items.extend(response.json())
            cursor = next_cursor(response.headers.get("Link", ""))
            if not cursor:
                return items

    # ---- health and auth -------------------------------------------------
    def healthy(self) -> bool:
        """Whether GlitchTip answers; a certificate that does not verify is raised, not a mere "no"."""
        try:
            return self.request("GET", "/_health/", auth=False).text.strip() == "ok"
        except GlitchTipCertificateError:
            raise
        except GlitchTipError:
            return False

    def settings(self) -> dict:
        """Public instance settings (registration open or not, version...)."""
        return self.request("GET", "/api/settings/", auth=False).json()

    def login(self, email: str, password: str) -> None:
        """allauth headless login; afterwards the session cookie authenticates (token unset)."""
        self.request("GET", "/_allauth/browser/v1/config", auth=False)
        try:
            self.request(
                "POST", "/_allauth/browser/v1/auth/login", json={"email": email, "password": password}, auth=False
            )
        except GlitchTipError as exc:
            if exc.status in (400, 401):
                raise GlitchTipError(f"GlitchTip refused the login of {email}", exc.status, exc.detail) from None
            raise
        self.token = ""

    def secure_session_over_http(self) -> bool:
        """Whether GlitchTip set its session cookie Secure (SESSION_COOKIE_SECURE) while this client speaks plain
        http: like a browser, requests never sends such a cookie back, so every call after the login is anonymous."""
        return urlsplit(self.base_url).scheme == "http" and any(
            cookie.secure for cookie in self.browser.cookies if cookie.name == "sessionid"
        )

    def token_works(self) -> bool:
        if not self.token:
            return False
        try:
            self.request("GET", "/api/0/organizations/", params={"limit": 1})
        except GlitchTipError as exc:
            if exc.status in (401, 403):
                return False
            raise
        return True

    def create_token(self, label: str, scopes: list[str]) -> Token:
        """Needs a session (see login); every call creates another token."""
        data = self.request(
            "POST", "/api/0/api-tokens/", json={"label": label, "scopes": scopes}, auth=False, expected=(200, 201)
        ).json()
        return Token(int(data["id"]), data["label"], tuple(data["scopes"]), data["token"])

    def tokens(self) -> list[Token]:
        """The logged-in user's API tokens, with their values (session only, like create_token)."""
        return [
            Token(int(t["id"]), t["label"], tuple(t["scopes"]), t["token"])
            for t in self.request("GET", "/api/0/api-tokens/", params={"limit": 100}, auth=False).json()
        ]

    def delete_token(self, token_id: int) -> None:
        self.request("DELETE", f"/api/0/api-tokens/{token_id}/", auth=False, expected=(204,))

    # ---- organizations, teams, projects ---------------------------------
    def organizations(self) -> list[Organization]:
        return [Organization.from_api(o) for o in self.get_all("/api/0/organizations/")]

    def create_organization(self, name: str) -> Organization:
        o = self.request("POST", "/api/0/organizations/", json={"name": name}, expected=(201,)).json()
        return Organization.from_api(o)

    def teams(self, org: str) -> list[Team]:
        return [Team.from_api(t) for t in self.get_all(f"/api/0/organizations/{org}/teams/")]

    def create_team(self, org: str, slug: str) -> Team:
        t = self.request("POST", f"/api/0/organizations/{org}/teams/", json={"slug": slug}, expected=(201,)).json()
        return Team.from_api(t)

    def projects(self, org: str) -> list[Project]:
        return [Project.from_api(p) for p in self.get_all(f"/api/0/organizations/{org}/projects/")]

    def create_project(self, org: str, team: str, name: str, platform: str = "python-django") -> Project:
        p = self.request(
            "POST", f"/api/0/teams/{org}/{team}/projects/", json={"name": name, "platform": platform}, expected=(201,)
        ).json()
        return Project.from_api(p)

    def project_keys(self, org: str, project: str) -> list[ProjectKey]:
        return [
            ProjectKey(str(k["id"]), k["dsn"]["public"]) for k in self.get_all(f"/api/0/projects/{org}/{project}/keys/")
        ]

    # ---- monitors and releases ------------------------------------------
    def monitors(self, org: str) -> list[Monitor]:
        return [Monitor.from_api(m) for m in self.get_all(f"/api/0/organizations/{org}/monitors/")]

    def create_monitor(self, org: str, monitor: Monitor) -> Monitor:
        """POST `monitor` (its id is not sent); returns it as stored."""
        m = self.request("POST", f"/api/0/organizations/{org}/monitors/", json=monitor.body(), expected=(201,)).json()
        return Monitor.from_api(m)

    def update_monitor(self, org: str, monitor: Monitor) -> Monitor:
        """PUT the whole monitor: fields left out fall back to defaults, `project` to none."""
        m = self.request("PUT", f"/api/0/organizations/{org}/monitors/{monitor.id}/", json=monitor.body()).json()
        return Monitor.from_api(m)

    # ---- alerts and the people they reach --------------------------------
    def alerts(self, org: str, project: str) -> list[Alert]:
        return [Alert.from_api(a) for a in self.get_all(f"/api/0/projects/{org}/{project}/alerts/")]

    def create_alert(self, org: str, project: str, body: dict) -> Alert:
        a = self.request("POST", f"/api/0/projects/{org}/{project}/alerts/", json=body, expected=(201,)).json()
        return Alert.from_api(a)

    def update_alert(self, org: str, project: str, alert_id: int, body: dict) -> Alert:
        """PUT replaces the recipients: send them all, or those left out are deleted."""
        a = self.request("PUT", f"/api/0/projects/{org}/{project}/alerts/{alert_id}/", json=body).json()
        return Alert.from_api(a)

    def organization_members(self, org: str) -> list[Member]:
        return [Member.from_api(m) for m in self.get_all(f"/api/0/organizations/{org}/members/")]

    def team_members(self, org: str, team: str) -> list[Member]:
        return [Member.from_api(m) for m in self.get_all(f"/api/0/teams/{org}/{team}/members/")]

    def invite_member(self, org: str, email: str, team: str) -> Member:
        """Invite `email` into the organization and the team; GlitchTip mails the invitation.
        While registration is closed only existing users may be invited (403)."""
        m = self.request(
            "POST",
            f"/api/0/organizations/{org}/members/",
            expected=(201,),
            json={"email": email, "orgRole": "member", "teamRoles": [{"teamSlug": team}]},
        ).json()
        return Member.from_api(m)

    def add_member_to_team(self, org: str, member_id: str, team: str) -> None:
        self.request("POST", f"/api/0/organizations/{org}/members/{member_id}/teams/{team}/", expected=(201,))

    def alert_subscriptions(self) -> dict[str, int]:
        """The token user's per-project alert e-mail setting: project id -> 1 on, 0 off (absent: default, on)."""
        return {str(k): int(v) for k, v in self.request("GET", "/api/0/users/me/notifications/alerts/").json().items()}

    def set_alert_subscription(self, project_id: str, status: int) -> None:
        """1 always, 0 never, -1 back to the user's default for this project."""
        self.request("PUT", "/api/0/users/me/notifications/alerts/", json={project_id: status}, expected=(204,))

    def releases(self, org: str, project: str) -> list[str]:
        return [r["version"] for r in self.get_all(f"/api/0/projects/{org}/{project}/releases/")]

    def create_release(self, org: str, project: str, version: str) -> None:
        self.request(
            "POST", f"/api/0/projects/{org}/{project}/releases/", json={"version": version}, expected=(200, 201)
        )

    # ---- events ----------------------------------------------------------
    def event(self, org: str, project: str, event_id: str) -> dict | None:
        """An error or message event by id; None while GlitchTip has not processed it yet (404)."""
        try:
            return self.request("GET", f"/api/0/projects/{org}/{project}/events/{event_id}/").json()
        except GlitchTipError as exc:
            if exc.status == 404:
                return None
            raise

    def newest_transaction_names(self, org: str, limit: int = 100) -> set[str]:
        """Names of the newest transaction groups.

        GlitchTip has no lookup of a transaction by id, its transaction list runs oldest first,
        and the groups' `query` filter is accepted but ignored; sorting groups by creation
        (newest first) works. (The `environment` filter reads tags that a live server filled
        in only later, so it is not used.)
        """
        response = self.request(
            "GET", f"/api/0/organizations/{org}/transaction-groups/", params={"sort": "-created", "limit": limit}
        )
        return {group["transaction"] for group in response.json()}


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "HTML error page" if "<html" in response.text[:200].lower() else response.text[:200]
    if isinstance(body, dict):
        if "detail" in body:
            return str(body["detail"])
        if "errors" in body:
            return "; ".join(str(e.get("message", e)) for e in body["errors"])
    return str(body)[:200]
