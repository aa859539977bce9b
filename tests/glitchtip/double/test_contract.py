"""The GlitchTip double against the recorded contract (tests/glitchtip/contract/).

Every recorded exchange of an endpoint the bundle calls is replayed, in file order, against one fresh
double per recording (replay.py); exchanges of endpoints nobody calls stay on disk, skipped with the
reason. Focused tests pin what the recordings do not show. The quirks the scripts (glitchtip/) depend
on, and where each is proven (main: exchanges/, alerts: alerts/exchanges/):

1. creates are not idempotent: an organization again gets a random slug suffix (main 13), a project
   "-2" (main 22), a team a 500 page (main 18), an alert a twin (alerts 21), so the bootstrap looks
   before it creates; the project's release endpoint is a get-or-create (focused);
2. a wrong DSN key blocks the project id for 30 s (main 66-70), so the smoke test checks the keys first;
3. lists page with cursors in a Link header that is a Python set's repr (every list; the cursors'
   form: focused, against main 41-42), which client.next_cursor reads;
4. events are readable only after the worker's delay, 404 until then (main 45), so the smoke test
   polls; transactions are found among the transaction groups (main 53), newest first (focused);
5. an API token is created with a session only (main 07-09); an unknown token is a 401 or a CSRF
   failure (main 26-28) and falls back to the session, which needs X-CSRFToken on unsafe methods
   (focused): the client keeps two HTTP sessions;
6. tokens need the scope of the endpoint (main 29, alerts 33);
7. DSNs and heartbeat URLs carry the configured public domain (focused), which the bootstrap rewrites;
8. a monitor update is a PUT of the whole monitor: a left-out `project` detaches it (alerts 41), a
   partial body is a 422 (alerts 43); a GET monitor needs an expected status and a dotted host (52-53);
9. a PUT of an alert replaces its recipients: left out, all are deleted (alerts 25); one sent again
   keeps its id (alerts 24); an e-mail recipient takes no address (alerts 09-10);
10. while registration is closed (/api/settings/ says so; the bootstrap closes it) only existing users may
   be invited; an invited member is pending until they accept (alerts 96-99, a later run: focused).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.glitchtip.double import GlitchTipDouble, ManualClock
from tests.glitchtip.double.replay import Recording, Replay, link_entries

CONTRACT = Path(__file__).parents[1] / "contract"
NOBODY = "no product code calls this endpoint"
PASSWORD = "a-Long-test-passw0rd"


def envelope(*lines: dict) -> str:
    """An envelope as the SDK sends it: one JSON line each for the header and every item's header and payload."""
    return "".join(json.dumps(line) + "\n" for line in lines)


def readable_only_after_the_delay(replay: Replay, exchange: dict) -> requests.Response:
    """The recorder polled: 404 until the worker had stored the event, about 2 s after it was sent."""
    early = replay.send(exchange["request"])
    assert (early.status_code, early.json()) == (404, {"detail": "Not Found"}), "readable before the ingestion delay"
    replay.clock.advance(2.5)
    return replay.send(exchange["request"])


def store_as_envelope(replay: Replay, exchange: dict) -> None:
    """The event sent to /store/ (which no product code calls) goes in an envelope, as the SDK sends it."""
    request = exchange["request"]
    replay.send(
        {
            **request,
            "path": request["path"].replace("/store/", "/envelope/"),
            "headers": {**request["headers"], "Content-Type": "application/x-sentry-envelope"},
            "body": envelope({"event_id": request["body"]["event_id"]}, {"type": "event"}, request["body"]),
        }
    )


def release_of_the_project(replay: Replay, exchange: dict) -> requests.Response:
    """Recorded through the organization's release endpoint; the bootstrap calls the project's, which makes
    the same release and answers the same ReleaseSchema (apps/releases/api.py)."""
    request = exchange["request"]
    return replay.send(
        {
            **request,
            "path": "/api/0/projects/contract-recording/contract-app/releases/",
            "body": {"version": request["body"]["version"]},
        }
    )


def deleted_alert(replay: Replay, exchange: dict) -> None:
    """No product code deletes an alert: the double's state loses the alert the recorded DELETE removed."""
    alert_id = int(exchange["request"]["path"].rstrip("/").rsplit("/", 1)[1])
    replay.double.state.alerts[:] = [alert for alert in replay.double.state.alerts if alert.id != alert_id]


TOKENS: dict[str, str] = {}  # the alerts recording's: "full", "read-only", "project:write"
MAIN = Recording(
    CONTRACT / "exchanges",
    "127.0.0.1:8001",
    ("content-type", "set-cookie", "x-hits", "x-max-hits", "link", "allow", "retry-after"),
    {"<password>": PASSWORD, "<invalid_token>": "0" * 40, "<wrong_sentry_key>": uuid.uuid4().hex},
    skipped=dict.fromkeys((6, 14, 23, 39, 40, 41, 42, 43, 44, 50, 51, 52, 54, 61, 62, 64, 65, 69), NOBODY),
    stand_ins={39: store_as_envelope, 45: readable_only_after_the_delay, 60: release_of_the_project},
    wait_before={70: 31.0},
)  # the block of the wrong key (67) is over
# The recorded server already held other data: the double's ids start where its ids stood.
RECORDED_FIRST_IDS = dict(user=4, token=8, organization=8, team=8, project=9, issue=46, monitor=5, transaction_group=11)
ALERTS = Recording(
    CONTRACT / "alerts" / "exchanges",
    "127.0.0.1:8011",
    ("content-type", "link", "x-hits", "allow"),
    # The recorded server's monitor interval was a smallint (> 32767: a 500). GlitchTip 6.x, which the bundle
    # pins, takes up to 86400 (a daily job's heartbeat), and so does the double.
    skipped={
        **dict.fromkeys((23, 27, 29, 30, 35, 39, 42, 44, 51, 54), NOBODY),
        47: "6.x",
        48: "6.x",
        **dict.fromkeys((96, 97, 98, 99), "a later run in another organization: see the members test"),
    },
    stand_ins={29: deleted_alert},
    # The title names the token the recorder used.
    token=lambda exchange: next(
        (TOKENS[name] for name in TOKENS if f"{name} token" in exchange["title"]), TOKENS["full"]
    ),
)


@pytest.fixture(scope="module")
def main_replay():
    clock = ManualClock(start=datetime(2026, 11, 28, 9, 45, 34, 123456, tzinfo=UTC))
    double = GlitchTipDouble(clock=clock).start()
    double.state.start_ids_at(**RECORDED_FIRST_IDS)
    double.create_user("contract@example.com", PASSWORD, superuser=True)
    yield Replay(double, clock, MAIN)
    double.stop()


@pytest.fixture(scope="module")
def alerts_replay():
    clock = ManualClock()
    double = GlitchTipDouble(clock=clock).start()
    admin = double.create_user("admin@example.com", PASSWORD, superuser=True)
    TOKENS["full"] = double.create_token(admin)
    TOKENS["read-only"] = double.create_token(admin, ["project:read"])
    TOKENS["project:write"] = double.create_token(admin, ["project:read", "project:write"])
    yield Replay(double, clock, ALERTS)
    double.stop()


@pytest.mark.parametrize("number", MAIN.replayed(), ids=[MAIN.exchanges()[n].stem for n in MAIN.replayed()])
def test_recorded_exchange(main_replay, number):
    assert main_replay.outcome(number) == []


@pytest.mark.parametrize("number", ALERTS.replayed(), ids=[ALERTS.exchanges()[n].stem for n in ALERTS.replayed()])
def test_recorded_alerts_exchange(alerts_replay, number):
    assert alerts_replay.outcome(number) == []


# ---- focused tests: what the recordings do not show ------------------------------------------


class Api(requests.Session):
    """admin@example.com's full-scope token on the double, relative paths."""

    def __init__(self, double: GlitchTipDouble):
        super().__init__()
        self.double = double
        admin = double.create_user("admin@example.com", PASSWORD, superuser=True)
        self.headers["Authorization"] = f"Bearer {double.create_token(admin)}"

    def request(self, method, url, **kwargs):
        return super().request(method, self.double.url + url, timeout=5, **kwargs)


@pytest.fixture
def api():
    """With organization "acme", team "ops" and project "web"."""
    api = Api(GlitchTipDouble(clock=ManualClock()).start())
    api.post("/api/0/organizations/", json={"name": "Acme"})
    api.post("/api/0/organizations/acme/teams/", json={"slug": "ops"})
    api.post("/api/0/teams/acme/ops/projects/", json={"name": "Web"})
    yield api
    api.double.stop()


def test_the_project_release_endpoint_is_a_get_or_create(api):
    for _ in range(2):
        created = api.post("/api/0/projects/acme/web/releases/", json={"version": "web@1.0"})
        assert (created.status_code, created.json()["version"]) == (201, "web@1.0")
    assert [release["version"] for release in api.get("/api/0/projects/acme/web/releases/").json()] == ["web@1.0"]


def test_cursors_take_the_recorded_form_both_ways(api):
    """Three teams a page each: the first and the middle page's Link headers as the recorded first and
    second page of a list in the same order (newest first), but for the URL's path."""
    for slug in ("dev", "qa"):
        api.post("/api/0/organizations/acme/teams/", json={"slug": slug})
    params: dict = {"limit": 1}
    for recorded, slug in (("41-issues-list-limit-1.json", "qa"), ("42-issues-list-page-2.json", "dev")):
        response = api.get("/api/0/organizations/acme/teams/", params=params)
        recorded_link = json.loads((MAIN.folder / recorded).read_text())["response"]["headers"]["Link"]
        assert [entry[1:] for entry in link_entries(response.headers["Link"])] == [
            entry[1:] for entry in link_entries(recorded_link)
        ]
        assert [team["slug"] for team in response.json()] == [slug]
        params["cursor"] = re.findall(r'rel="next"; results="true"; cursor="([^"]*)"', response.headers["Link"])[0]


def test_transaction_groups_sorted_newest_first(api):
    key = api.double.state.projects[0].public_key.hex
    timing = {"start_timestamp": 1.0, "timestamp": 1.25, "contexts": {"trace": {"op": "http.server"}}}
    items = [({"type": "transaction"}, {"transaction": name, **timing}) for name in ("GET /first/", "GET /second/")]
    body = envelope({}, *itertools.chain(*items))
    assert api.post("/api/1/envelope/", data=body, headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"}).ok
    api.double.clock.advance(2.5)
    groups = api.get("/api/0/organizations/acme/transaction-groups/", params={"sort": "-created"}).json()
    assert [(group["transaction"], group["avgDuration"]) for group in groups] == [
        ("GET /second/", 250),
        ("GET /first/", 250),
    ]


def test_an_unknown_token_falls_back_to_the_session_which_needs_the_csrf_header(api):
    session, allauth = requests.Session(), f"{api.double.url}/_allauth/browser/v1"
    session.get(f"{allauth}/config", timeout=5)
    csrf = {"X-CSRFToken": session.cookies["csrftoken"]}
    login = {"email": "admin@example.com", "password": PASSWORD}
    session.post(f"{allauth}/auth/login", json=login, headers=csrf, timeout=5).raise_for_status()
    organizations, unknown = f"{api.double.url}/api/0/organizations/", {"Authorization": f"Bearer {'0' * 40}"}
    assert session.get(organizations, headers=unknown, timeout=5).status_code == 200  # the session answered
    refused = session.post(organizations, json={"name": "Beta"}, headers=unknown, timeout=5)
    assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF check Failed"})
    csrf["X-CSRFToken"] = session.cookies["csrftoken"]  # rotated by the login
    assert session.post(organizations, json={"name": "Beta"}, headers=csrf, timeout=5).status_code == 201


def test_the_configured_domain_goes_into_dsns_and_heartbeat_urls(api):
    api.double.domain = "https://glitchtip.example.com"
    dsn = api.get("/api/0/projects/acme/web/keys/").json()[0]["dsn"]["public"]
    assert re.fullmatch(r"https://[0-9a-f]{32}@glitchtip\.example\.com/1", dsn)
    heartbeat = {
        "monitorType": "Heartbeat",
        "name": "nightly",
        "expectedBody": "",
        "expectedStatus": None,
        "timeout": None,
    }
    monitor = api.post("/api/0/organizations/acme/monitors/", json=heartbeat)
    assert monitor.json()["heartbeatEndpoint"].startswith(
        "https://glitchtip.example.com/api/0/organizations/acme/heartbeat_check/"
    )
    # Like Django's build_absolute_uri, the Link header names the host the client asked.
    assert f"<{api.double.url}/api/0/" in api.get("/api/0/organizations/acme/monitors/").headers["Link"]


def recorded_member(number: int):
    """The recorded request body and answer body, without ids and times (the later run's server held more)."""
    exchange = json.loads(next(ALERTS.folder.glob(f"{number}-*.json")).read_text())
    return exchange["request"]["body"], without_ids(exchange["response"]["body"])


def without_ids(body):
    if isinstance(body, list):
        return [without_ids(item) for item in body]
    return {
        key: without_ids(value) if isinstance(value, dict) else value
        for key, value in body.items()
        if key not in {"id", "dateCreated", "dateJoined", "lastLogin"}
    }


def test_an_invited_member_is_pending_until_they_accept_and_only_users_are_invited(api):
    """The recorded members run (alerts 96-99), in an organization with team "lab"."""
    api.post("/api/0/organizations/acme/teams/", json={"slug": "lab"})
    request, answer = recorded_member(96)
    refused = api.post("/api/0/organizations/acme/members/", json=request)
    assert (refused.status_code, refused.json(), api.double.state.invitations_sent) == (403, answer, [])
    ops = api.double.create_user("ops@example.com", "ops-own-Passw0rd")
    request, answer = recorded_member(97)
    invite = api.post("/api/0/organizations/acme/members/", json=request)
    assert (invite.status_code, without_ids(invite.json())) == (201, answer)
    assert without_ids(api.get("/api/0/teams/acme/lab/members/").json()) == recorded_member(98)[1]
    api.double.accept_invitation(api.double.state.invitations_sent[-1], ops)
    assert without_ids(api.get("/api/0/teams/acme/lab/members/").json()) == recorded_member(99)[1]
