"""The GlitchTip double against the recorded contract (tests/glitchtip/contract/).

First every recorded exchange is replayed, in file order, against one fresh double and its
answer compared with the recorded one. Then focused tests pin, one at a time, the quirks the
scripts (glitchtip/) depend on, and the double's knobs their tests use:

1. creates are not idempotent (an organization again gets a random slug suffix, a project
   "-2", a team a 500 page), so bootstrap looks before it creates; the project-level release
   endpoint is a get-or-create, so bootstrap records its release there;
2. a wrong DSN key blocks the project id for 30 s, so the smoke test checks the keys first;
3. lists page with cursors in a Link header that is a Python set's repr (client.next_cursor);
4. events are readable only after the worker's delay (404 until then), so the smoke test polls;
   transactions are found among the transaction groups, newest first (their environment
   filter finds nothing);
5. an API token is created with a session only, an unknown token falls back to the session,
   and a session needs X-CSRFToken on unsafe methods (the client keeps two HTTP sessions);
6. tokens need the scope of the endpoint (project:releases for releases);
7. DSNs and heartbeat URLs carry the configured public domain (bootstrap rewrites the host);
8. a GET uptime monitor needs an expected status, a dotted host name and every field;
9. /api/settings/ tells whether registration is open (bootstrap closes it).
"""
from __future__ import annotations

import base64
import gzip
import json
import re
import time
import uuid
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from tests.glitchtip.double import GlitchTipDouble, ManualClock
from tests.glitchtip.double.account import PASSWORD, Account, browser_login, make_account
from tests.glitchtip.double.auth import SCOPES

CONTRACT = Path(__file__).parents[1] / "contract"
EXCHANGES = sorted((CONTRACT / "exchanges").glob("*.json"))
RECORDED_HOST = "127.0.0.1:8001"
RECORDED_START = datetime(2026, 11, 28, 9, 45, 34, 123456, tzinfo=UTC)
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The recorded server already held other data: the double's ids start where its ids stood,
# so ids can be compared by value.
RECORDED_FIRST_IDS = dict(user=4, token=8, organization=8, team=8, project=9, issue=46, monitor=5,
                          transaction_group=11, environment=142, environment_project=142)
# Values the server chose (secrets behind placeholders, random slugs and ids): the double
# picks its own, which must have the same form; the replay learns them from its answers.
SERVER_CHOSEN = {"<token>": r"[0-9a-f]{40}", "<readonly_token>": r"[0-9a-f]{40}", "<public_key>": r"[0-9a-f]{32}",
                 "<public_key_uuid>": UUID, "contract-recording-o5": r"contract-recording-[a-z0-9]{2}",
                 "28b884fe-1389-443e-8ec5-47ff347d0cc0": UUID}
# Time that passed in the recording before an exchange (from its notes): the worker's ~2 s
# before ingested data is readable, and the 31 s after the wrong-key request (file 67).
WAIT_BEFORE = {40: 2.5, 70: 31.0}
# Before that wait, this exchange's request must still find nothing (404), as the recorder's polling did.
NOT_YET_READABLE = {40: 45}
# Keys whose values come from the server's clock: only their form is compared.
CLOCK_KEYS = {"created", "dateCreated", "dateReceived", "date_created", "date_received", "firstSeen", "lastSeen",
              "firstEvent", "dateReleased", "startCheck", "start_check", "lastChange", "at"}
LINK_ENTRY = re.compile(r'<(?P<url>[^>]*)>; rel="(?P<rel>\w+)"; results="(?P<results>\w+)"'
                        r'(?:; cursor="(?P<cursor>[^"]*)")?')


class Replay:
    """Sends the recorded requests to the double, with the values it chose, and lists mismatches."""

    def __init__(self, double: GlitchTipDouble, clock: ManualClock):
        self.double = double
        self.clock = clock
        # Recorded placeholders and values -> what they stand for in this run.
        self.values = {RECORDED_HOST: urlsplit(double.url).netloc, "<password>": PASSWORD, "<invalid_token>": "0" * 40,
                       "<wrong_sentry_key>": uuid.uuid4().hex}
        self.cookies: dict[str, str] = {}
        self.outcomes: dict[int, list[str]] = {}

    def mismatches(self, number: int) -> list[str]:
        """How exchange `number` (1-based) differed, replaying the earlier ones first if needed."""
        for index in range(len(self.outcomes) + 1, number + 1):
            exchange = json.loads(EXCHANGES[index - 1].read_text())
            problems = self.outcomes[index] = []
            if index in NOT_YET_READABLE:
                early = self.send(json.loads(EXCHANGES[NOT_YET_READABLE[index] - 1].read_text())["request"])
                if early.status_code != 404 or early.json() != {"detail": "Not Found"}:
                    problems.append(f"readable before the ingestion delay: {early.status_code}")
            self.clock.advance(WAIT_BEFORE.get(index, 0))
            self.compare(exchange["response"], self.send(exchange["request"]), problems)
        return self.outcomes[number]

    # ---- the request, with this run's values -------------------------------------------
    def send(self, recorded: dict) -> requests.Response:
        headers = {}
        for name, value in recorded["headers"].items():
            if name == "Cookie":
                names = [part.split("=")[0] for part in value.split("; ")]
                headers[name] = "; ".join(f"{cookie}={self.cookies[cookie]}" for cookie in names)
            elif name == "X-CSRFToken":
                headers[name] = self.cookies["csrftoken"]
            else:
                headers[name] = self.fill(value)
        body = recorded["body"]
        if body is not None:
            body = (json.dumps(self.fill(body)) if isinstance(body, (dict, list)) else self.fill(body)).encode()
            if headers.get("Content-Encoding") == "gzip":
                body = gzip.compress(body)
        query = [(name, self.fill(item)) for name, value in recorded["query"].items()
                 for item in (value if isinstance(value, list) else [value])]
        response = requests.request(recorded["method"], self.double.url + self.fill(recorded["path"]), params=query,
                                    data=body, headers=headers, allow_redirects=False, timeout=5)
        for line in response.raw.headers.getlist("Set-Cookie"):
            self.cookies.update({name: morsel.value for name, morsel in SimpleCookie(line).items()})
        return response

    def fill(self, value):
        """`value` (a string, or JSON holding strings) with recorded values replaced by this run's."""
        if isinstance(value, dict):
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, str):
            for recorded, actual in self.values.items():
                value = value.replace(recorded, actual)
        return value

    # ---- the answer ---------------------------------------------------------------------
    def compare(self, recorded: dict, response: requests.Response, problems: list[str]) -> None:
        expect = recorded["headers"]
        if response.status_code != recorded["status"]:
            problems.append(f"status {response.status_code} != {recorded['status']}: {response.text[:300]}")
        if response.headers.get("Content-Type") != expect["Content-Type"]:
            problems.append(f"Content-Type {response.headers.get('Content-Type')!r} != {expect['Content-Type']!r}")
        cookie_names = sorted(name for line in response.raw.headers.getlist("Set-Cookie")
                              for name in SimpleCookie(line))
        if cookie_names != sorted(expect.get("Set-Cookie", [])):
            problems.append(f"Set-Cookie {cookie_names} != {expect.get('Set-Cookie', [])}")
        for name in ("X-Hits", "X-Max-Hits", "Allow", "Retry-After"):
            if response.headers.get(name) != expect.get(name):
                problems.append(f"{name} {response.headers.get(name)!r} != {expect.get(name)!r}")
        self.compare_link(expect.get("Link"), response.headers.get("Link"), problems)
        if expect["Content-Type"].startswith("application/json"):
            self.compare_json(recorded["body"], response.json(), "body", problems)
        else:
            self.compare_text(recorded["body"], response.text, "body", problems)

    def compare_json(self, recorded, actual, where: str, problems: list[str]) -> None:
        """Same keys (recursively), same list lengths, same values; clock values in the same form."""
        key = where.rsplit(".", 1)[-1]
        if isinstance(recorded, dict):
            if not isinstance(actual, dict) or set(recorded) != set(actual):
                problems.append(f"{where}: keys {sorted(actual) if isinstance(actual, dict) else actual!r} "
                                f"!= {sorted(recorded)}")
                return
            for name in recorded:
                self.compare_json(recorded[name], actual[name], f"{where}.{name}", problems)
        elif isinstance(recorded, list):
            if not isinstance(actual, list) or len(actual) != len(recorded):
                problems.append(f"{where}: {actual!r} is not a list of {len(recorded)}")
                return
            for index, (expected, got) in enumerate(zip(recorded, actual, strict=True)):
                self.compare_json(expected, got, f"{where}[{index}]", problems)
        elif key in CLOCK_KEYS:
            if type(actual) is not type(recorded) or (isinstance(recorded, str) and shape(actual) != shape(recorded)):
                problems.append(f"{where}: {actual!r} is not like {recorded!r}")
        elif isinstance(recorded, str):
            self.compare_text(recorded, actual, where, problems)
        elif type(actual) is not type(recorded) or actual != recorded:
            problems.append(f"{where}: {actual!r} != {recorded!r}")

    def compare_text(self, recorded: str, actual, where: str, problems: list[str]) -> None:
        """Equal after substitution; server-chosen values not known yet are learned here."""
        expected = self.fill(recorded)
        unknown = [value for value in SERVER_CHOSEN if value in expected]
        if not unknown:
            if actual != expected:
                problems.append(f"{where}: {actual!r} != {expected!r}")
            return
        pattern = re.escape(expected)
        for index, token in enumerate(unknown):
            pattern = pattern.replace(re.escape(token), f"(?P<g{index}>{SERVER_CHOSEN[token]})", 1)
            pattern = pattern.replace(re.escape(token), f"(?P=g{index})")
        match = re.fullmatch(pattern, actual) if isinstance(actual, str) else None
        if match is None:
            problems.append(f"{where}: {actual!r} does not fit {expected!r}")
            return
        for index, token in enumerate(unknown):
            self.values[token] = match.group(f"g{index}")

    def compare_link(self, recorded: str | None, actual: str | None, problems: list[str]) -> None:
        """The Link header entry by entry; cursors encode the server's clock, so only their form counts."""
        if recorded is None or actual is None:
            if recorded != actual:
                problems.append(f"Link {actual!r} != {recorded!r}")
            return
        if not (actual.startswith("{'") and actual.endswith("'}")):
            problems.append(f"Link is not a set's repr: {actual!r}")
        expected, got = LINK_ENTRY.finditer(recorded), list(LINK_ENTRY.finditer(actual))
        for entry, found in zip(expected, got, strict=False):  # a missing entry is reported below
            if (found["rel"], found["results"]) != (entry["rel"], entry["results"]):
                problems.append(f"Link entry {found.group()!r} != {entry.group()!r}")
            if entry["cursor"]:
                if not found["cursor"] or cursor_form(found["cursor"]) != cursor_form(entry["cursor"]):
                    problems.append(f"Link cursor {found['cursor']!r} is not like {entry['cursor']!r}")
                    continue
                self.values[entry["cursor"]] = found["cursor"]
            # The URL carries the entry's own cursor; otherwise it is as recorded, query order included.
            recorded_url, actual_url = urlsplit(self.fill(entry["url"])), urlsplit(found["url"])
            recorded_query = [(name, found["cursor"] if name == "cursor" else value)
                              for name, value in parse_qsl(recorded_url.query)]
            if (recorded_url[:3], recorded_query) != (actual_url[:3], parse_qsl(actual_url.query)):
                problems.append(f"Link URL {found['url']!r} != {entry['url']!r}")
        if len(got) != 2:
            problems.append(f"Link has {len(got)} entries: {actual!r}")


def shape(text: str) -> str:
    """A timestamp's form: digits blanked out, precision and zone kept."""
    return re.sub(r"\d", "0", text)


def cursor_form(cursor: str) -> list[tuple[str, str]]:
    """A cursor's offset and direction as they are, its position (a timestamp) by form only."""
    tokens = parse_qsl(base64.b64decode(cursor).decode())
    return [(name, shape(value) if name == "p" else value) for name, value in tokens]


@pytest.fixture(scope="module")
def replay():
    clock = ManualClock(start=RECORDED_START)
    double = GlitchTipDouble(clock=clock).start()
    double.state.start_ids_at(**RECORDED_FIRST_IDS)
    double.create_user("contract@example.com", PASSWORD, superuser=True)
    yield Replay(double, clock)
    double.stop()


@pytest.mark.parametrize("number", range(1, len(EXCHANGES) + 1), ids=[path.stem for path in EXCHANGES])
def test_recorded_exchange(replay, number):
    assert replay.mismatches(number) == []


# ---- focused tests: the quirks the scripts depend on, one at a time ------------------------

def issues_path(account: Account) -> str:
    return f"/api/0/projects/{account.org}/web/issues/"


def link_entries(link: str) -> dict[str, re.Match]:
    return {entry["rel"]: entry for entry in LINK_ENTRY.finditer(link)}


# 1. Creates are not idempotent, and some duplicates fail badly.

def test_an_organization_created_again_is_another_one_with_a_random_suffix(account):
    again = [account.post("/api/0/organizations/", {"name": "Acme"}) for _ in range(2)]
    assert [response.status_code for response in again] == [201, 201]
    slugs = [response.json()["slug"] for response in again]
    assert re.fullmatch(r"acme-[a-z0-9]{2,3}", slugs[0]) and re.fullmatch(r"acme-[a-z0-9]{2,4}", slugs[1])
    assert len({"acme", *slugs}) == 3
    assert account.get("/api/0/organizations/").headers["X-Hits"] == "3"


def test_a_project_created_again_gets_a_numbered_slug(account):
    again = [account.post(f"/api/0/teams/{account.org}/ops/projects/", {"name": "Web"}) for _ in range(2)]
    assert [(response.status_code, response.json()["slug"]) for response in again] == [(201, "web-2"), (201, "web-3")]


def test_a_duplicate_team_is_djangos_500_page_and_a_project_release_is_get_or_create(account):
    duplicate = account.post(f"/api/0/organizations/{account.org}/teams/", {"slug": "ops"})
    assert duplicate.status_code == 500 and duplicate.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1>Server Error (500)</h1>" in duplicate.text
    releases = f"/api/0/projects/{account.org}/web/releases/"
    for _ in range(2):
        created = account.post(releases, {"version": "web@1.0"})
        assert (created.status_code, created.json()["version"]) == (201, "web@1.0")
    assert [release["version"] for release in account.get(releases).json()] == ["web@1.0"]


# 2. A wrong DSN key means 403 and a 30 s block of the project id.

def test_a_wrong_key_blocks_the_project_id_for_30_seconds(account, clock):
    wrong = account.send_event(key=uuid.uuid4().hex)
    assert (wrong.status_code, wrong.json(), wrong.headers["Content-Type"]) == (403, {"detail": "Denied"},
                                                                               "application/json")
    assert account.send_event().json() == {"detail": "Denied"}  # the right key, refused all the same
    store = account.store({"event_id": uuid.uuid4().hex, "message": "blocked"})
    assert (store.status_code, store.json()) == (401, {"detail": "Invalid DSN"})
    clock.advance(29.5)
    assert account.send_event().status_code == 403
    clock.advance(1)
    assert account.send_event().status_code == 200


# 3. The Link header is a Python set's repr; pages follow cursors.

def test_lists_page_with_cursors_and_a_set_repr_link_header(account, clock):
    for number in range(5):
        account.send_event(message=f"issue {number}")
        clock.advance(1)
    clock.advance(2)
    pages, response, params = [], None, {"limit": 2}
    while params:
        response = account.get(issues_path(account), params=params)
        assert (response.headers["X-Hits"], response.headers["X-Max-Hits"]) == ("5", "1000")
        assert response.headers["Link"].startswith(f"{{'<{account.double.url}/api/0/")
        assert response.headers["Link"].endswith("'}")
        pages.append([issue["title"] for issue in response.json()])
        following = link_entries(response.headers["Link"])["next"]
        params = {"limit": 2, "cursor": following["cursor"]} if following["results"] == "true" else None
    assert pages == [["issue 4", "issue 3"], ["issue 2", "issue 1"], ["issue 0"]]
    back = link_entries(response.headers["Link"])["previous"]
    assert back["results"] == "true" and parse_qs(urlsplit(back["url"]).query)["cursor"] == [back["cursor"]]
    previous_page = account.get(issues_path(account), params={"limit": 2, "cursor": back["cursor"]}).json()
    assert [issue["title"] for issue in previous_page] == ["issue 2", "issue 1"]


# 4. Ingestion is asynchronous; transactions are found among the transaction groups.

def test_an_event_is_readable_only_after_the_ingestion_delay(account, clock):
    event_id = account.send_event(environment="staging", release="web@7").json()["id"]
    path = f"/api/0/projects/{account.org}/web/events/{event_id}/"
    clock.advance(1.9)
    assert (account.get(path).status_code, account.get(path).json()) == (404, {"detail": "Not Found"})
    assert account.get(issues_path(account)).json() == []
    clock.advance(0.2)
    event = account.get(path).json()
    assert {"environment": "staging", "release": "web@7"}.items() <= {
        tag["key"]: tag["value"] for tag in event["tags"]}.items()
    assert len(account.get(issues_path(account)).json()) == 1


def test_the_ingestion_delay_runs_on_the_wall_clock_by_default():
    double = GlitchTipDouble(ingest_delay=0.3).start()
    try:
        account = make_account(double)
        sent = time.monotonic()
        path = f"/api/0/projects/{account.org}/web/events/{account.send_event().json()['id']}/"
        assert account.get(path).status_code == 404
        while account.get(path).status_code == 404 and time.monotonic() - sent < 5:
            time.sleep(0.05)
        assert 0.3 <= time.monotonic() - sent < 5
    finally:
        double.stop()


def transaction(name: str) -> dict:
    event_id = uuid.uuid4().hex
    return {"type": "transaction", "event_id": event_id, "transaction": name, "platform": "python",
            "start_timestamp": "2026-11-28T09:45:41.000000Z", "timestamp": "2026-11-28T09:45:41.250000Z",
            "environment": "ci", "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16],
                                                        "op": "http.server"}}}


def test_transaction_groups_newest_first_and_their_environment_filter_finds_nothing(account, clock):
    for name in ("GET /first/", "GET /second/"):
        item = transaction(name)
        # A profile next to it is accepted and dropped; the transaction is kept.
        response = account.send_envelope({"event_id": item["event_id"]}, [("profile", {"version": "1"}),
                                                                           ("transaction", item)])
        assert response.json() == {"id": item["event_id"]}
        clock.advance(1)
    clock.advance(2.5)
    groups = f"/api/0/organizations/{account.org}/transaction-groups/"
    newest = account.get(groups, params={"sort": "-created"}).json()
    assert [(group["transaction"], group["avgDuration"], group["op"]) for group in newest] == [
        ("GET /second/", 250, "http.server"), ("GET /first/", 250, "http.server")]
    assert account.get(groups, params={"environment": "ci"}).json() == []
    assert account.get(issues_path(account)).json() == []


# 5. Authentication: tokens, sessions and CSRF.

def test_api_tokens_are_managed_with_a_session_only(account):
    tokens = f"{account.double.url}/api/0/api-tokens/"
    bearer = {"Authorization": f"Bearer {account.token}"}
    post = requests.post(tokens, json={"label": "x", "scopes": ["org:read"]}, headers=bearer, timeout=5)
    assert (post.status_code, post.json()) == (403, {"detail": "CSRF check Failed"})
    assert requests.get(tokens, headers=bearer, timeout=5).status_code == 401


def test_an_unknown_token_falls_back_to_the_session(account):
    session = browser_login(account.double)
    unknown = {"Authorization": f"Bearer {'0' * 40}"}
    url = f"{account.double.url}/api/0/organizations/"
    assert requests.get(url, headers=unknown, timeout=5).status_code == 401
    assert session.get(url, headers=unknown, timeout=5).status_code == 200  # the session cookie answered


def test_a_session_needs_the_csrf_header_on_unsafe_methods(account):
    session = browser_login(account.double)
    url = f"{account.double.url}/api/0/organizations/"
    refused = session.post(url, json={"name": "Beta"}, timeout=5)
    assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF check Failed"})
    assert session.post(url, json={"name": "Beta"}, headers={"X-CSRFToken": session.cookies["csrftoken"]},
                        timeout=5).status_code == 201


# 6. Scopes.

def test_a_token_without_the_needed_scope_is_permission_denied(account):
    no_releases = {"Authorization": f"Bearer {account.double.create_token(account.user, SCOPES[:3] + SCOPES[4:])}"}
    assert account.get("/api/0/organizations/", headers=no_releases).status_code == 200
    refused = account.post(f"/api/0/projects/{account.org}/web/releases/", {"version": "1"}, headers=no_releases)
    assert (refused.status_code, refused.json()) == (403, {"detail": "Permission denied"})


# 7. The configured domain.

def test_the_configured_domain_goes_into_dsns_and_heartbeat_urls(account):
    account.double.domain = "https://glitchtip.example.com"
    key = account.get(f"/api/0/projects/{account.org}/web/keys/").json()[0]
    assert key["dsn"]["public"] == f"https://{account.key}@glitchtip.example.com/{account.project.id}"
    monitor = account.post(f"/api/0/organizations/{account.org}/monitors/", {
        "monitorType": "Heartbeat", "name": "nightly", "expectedBody": "", "expectedStatus": None,
        "timeout": None}).json()
    assert monitor["heartbeatEndpoint"].startswith(f"https://glitchtip.example.com/api/0/organizations/{account.org}/")
    # Like Django's build_absolute_uri, the Link header names the host the client asked.
    assert f"<{account.double.url}/api/0/" in account.get(issues_path(account)).headers["Link"]


# 8. Uptime monitors.

def test_a_get_uptime_monitor_needs_a_status_a_dotted_host_and_every_field(account):
    monitors = f"/api/0/organizations/{account.org}/monitors/"
    base = {"monitorType": "GET", "name": "app", "url": "http://app.internal/healthz", "expectedBody": "",
            "expectedStatus": 200, "timeout": None, "project": str(account.project.id)}
    for broken, detail in (({"expectedStatus": None}, "Expected status is required for GET"),
                           ({"url": "http://nginx/healthz"}, "Invalid Url")):
        response = account.post(monitors, {**base, **broken})
        assert (response.status_code, response.json()) == (422, {"detail": detail})
    missing = account.post(monitors, {key: value for key, value in base.items() if key != "expectedBody"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "payload", "expectedBody"]
    created = account.post(monitors, base)
    assert created.status_code == 201
    assert (created.json()["heartbeatEndpoint"], created.json()["endpointID"], created.json()["checks"]) == (
        None, None, [])


# 9. Registration.

def test_registration_is_open_for_the_first_user_then_as_configured(glitchtip):
    assert requests.get(f"{glitchtip.url}/api/settings/", timeout=5).json()["enableUserRegistration"] is True
    glitchtip.create_user("member@example.com", PASSWORD)
    assert requests.get(f"{glitchtip.url}/api/settings/", timeout=5).json()["enableUserRegistration"] is False
    glitchtip.user_registration_open = True
    assert requests.get(f"{glitchtip.url}/api/settings/", timeout=5).json()["enableUserRegistration"] is True


# ---- the knobs the scripts' tests use --------------------------------------------------

def test_down_answers_like_nginx_in_front_of_a_stopped_glitchtip(glitchtip):
    glitchtip.down = True
    response = requests.get(f"{glitchtip.url}/_health/", timeout=5)
    assert response.status_code == 502 and "502 Bad Gateway" in response.text
    glitchtip.down = False
    assert requests.get(f"{glitchtip.url}/_health/", timeout=5).status_code == 200


def test_a_dropped_event_is_accepted_but_never_readable(account, clock):
    account.double.drop_events_matching(lambda event: event.get("message") == "lost")
    lost, kept = account.send_event(message="lost"), account.send_event(message="kept")
    assert lost.status_code == kept.status_code == 200
    clock.advance(2.5)
    events = f"/api/0/projects/{account.org}/web/events/"
    assert account.get(f"{events}{lost.json()['id']}/").status_code == 404
    assert account.get(f"{events}{kept.json()['id']}/").status_code == 200
