"""The GlitchTip double against the recorded contract (tests/glitchtip/contract/).

First every recorded exchange is replayed, in file order, against one fresh double and its
answer compared with the recorded one; then focused tests pin each quirk listed in the
contract README's "Behaviours" section, and the double's test knobs.
"""
from __future__ import annotations

import base64
import gzip
import json
import re
import time
import uuid
from datetime import datetime, timezone
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
import sentry_sdk

from tests.glitchtip.double import GlitchTipDouble, ManualClock
from tests.glitchtip.double.auth import SCOPES

from tests.glitchtip.double.account import EMAIL, PASSWORD, Account, browser_login, make_account

CONTRACT = Path(__file__).parents[1] / "contract"
EXCHANGES = sorted((CONTRACT / "exchanges").glob("*.json"))
RECORDED_HOST = "127.0.0.1:8001"
RECORDED_START = datetime(2026, 11, 28, 9, 45, 34, 123456, tzinfo=timezone.utc)
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
            for index, (expected, got) in enumerate(zip(recorded, actual)):
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
        for entry, found in zip(expected, got):
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


# ---- focused tests: the README's "Behaviours", one quirk at a time ---------------------------

def issues_path(account: Account) -> str:
    return f"/api/0/projects/{account.org}/web/issues/"


def link_entries(link: str) -> dict[str, re.Match]:
    return {entry["rel"]: entry for entry in LINK_ENTRY.finditer(link)}


def assert_server_error_page(response: requests.Response) -> None:
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1>Server Error (500)</h1>" in response.text


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


def test_a_duplicate_team_or_release_is_djangos_500_page(account):
    assert_server_error_page(account.post(f"/api/0/organizations/{account.org}/teams/", {"slug": "ops"}))
    release = {"version": "web@1.0", "projects": ["web"]}
    assert account.post(f"/api/0/organizations/{account.org}/releases/", release).status_code == 201
    assert_server_error_page(account.post(f"/api/0/organizations/{account.org}/releases/", release))
    # The project-level endpoint is a get-or-create instead.
    again = account.post(f"/api/0/projects/{account.org}/web/releases/", {"version": "web@1.0"})
    assert (again.status_code, again.json()["version"]) == (201, "web@1.0")


def test_every_token_request_creates_another_token(account):
    session = browser_login(account.double)
    created = [session.post(f"{account.double.url}/api/0/api-tokens/", json={"label": "ci", "scopes": ["org:read"]},
                            headers={"X-CSRFToken": session.cookies["csrftoken"]}, timeout=5).json()
               for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{40}", token["token"]) for token in created)
    assert created[0]["token"] != created[1]["token"] and created[0]["id"] != created[1]["id"]
    listed = session.get(f"{account.double.url}/api/0/api-tokens/", timeout=5).json()
    assert {token["token"] for token in created} < {token["token"] for token in listed}


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


def test_the_block_holds_for_one_project_id_only(account):
    account.post(f"/api/0/teams/{account.org}/ops/projects/", {"name": "Worker"})
    worker = account.double.state.projects[-1]
    worker_key = account.double.state.keys_of(worker)[0].public_key.hex
    assert account.send_event(key=worker_key).status_code == 403  # the worker's key is wrong for "web"
    assert account.send_event().status_code == 403
    assert account.send_event(key=worker_key, project_id=worker.id).status_code == 200


def test_a_malformed_key_is_refused_without_a_block(account):
    malformed = account.send_event(key="not-a-uuid")
    assert (malformed.status_code, malformed.json()) == (403, {"detail": "Invalid DSN"})
    assert account.send_event().status_code == 200
    store = account.store({"event_id": uuid.uuid4().hex, "message": "x"}, key="not-a-uuid")
    assert store.status_code == 422


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


def test_single_objects_come_without_pagination_headers(account):
    response = account.get(f"/api/0/organizations/{account.org}/")
    assert response.status_code == 200 and not {"Link", "X-Hits", "X-Max-Hits"} & set(response.headers)


# 4. camelCase and snake_case are mixed; ids are strings or integers.

def test_issue_event_lists_are_snake_case_other_events_camel_case(account, clock):
    event_id = account.send_event().json()["id"]
    clock.advance(2.5)
    issue = account.get(issues_path(account)).json()[0]
    listed = account.get(f"/api/0/issues/{issue['id']}/events/").json()[0]
    assert {"event_id", "project_id", "group_id", "date_created", "date_received"} <= set(listed)
    assert not {"eventID", "nextEventID", "previousEventID", "userReport"} & set(listed)
    in_project = account.get(f"/api/0/projects/{account.org}/web/events/").json()[0]
    assert {"eventID", "projectID", "groupID", "dateCreated", "dateReceived"} <= set(in_project)
    detail = account.get(f"/api/0/projects/{account.org}/web/events/{event_id}/").json()
    assert {"nextEventID", "previousEventID", "userReport"} <= set(detail)
    assert (type(issue["id"]), type(issue["count"]), type(issue["project"]["id"])) == (str, str, str)
    assert (type(detail["projectID"]), type(detail["groupID"])) == (int, str)


def test_the_heartbeat_answers_snake_case_the_monitor_list_camel_case(account):
    created = account.post(f"/api/0/organizations/{account.org}/monitors/", {
        "monitorType": "Heartbeat", "name": "nightly", "url": "", "interval": 3600, "expectedBody": "",
        "expectedStatus": None, "timeout": None, "project": str(account.project.id)}).json()
    endpoint = created["heartbeatEndpoint"]
    assert endpoint == (f"{account.double.url}/api/0/organizations/{account.org}/heartbeat_check/"
                        f"{created['endpointID']}/")
    beat = requests.post(endpoint, timeout=5)  # no credentials, no body
    assert beat.status_code == 200 and set(beat.json()) == {"is_up", "start_check", "reason"}
    listed = account.get(f"/api/0/organizations/{account.org}/monitors/").json()[0]
    assert listed["isUp"] is True and set(listed["checks"][0]) == {"isUp", "startCheck", "reason"}
    assert (type(listed["id"]), type(listed["organizationID"]), type(listed["projectID"])) == (int, int, str)
    wrong_method = requests.get(endpoint, timeout=5)
    assert (wrong_method.status_code, wrong_method.text, wrong_method.headers["Allow"]) == (
        405, "Method not allowed", "POST")
    assert wrong_method.headers["Content-Type"] == "text/html; charset=utf-8"


# 5. Ingestion is asynchronous; issues, environments and releases appear as side effects.

def test_an_event_is_readable_only_after_the_ingestion_delay(account, clock):
    event_id = account.send_event(environment="staging", release="web@7").json()["id"]
    path = f"/api/0/projects/{account.org}/web/events/{event_id}/"
    side_effects = (issues_path(account), f"/api/0/organizations/{account.org}/environments/",
                    f"/api/0/projects/{account.org}/web/releases/")
    clock.advance(1.9)
    assert (account.get(path).status_code, account.get(path).json()) == (404, {"detail": "Not Found"})
    assert [account.get(list_path).json() for list_path in side_effects] == [[], [], []]
    clock.advance(0.2)
    assert account.get(path).status_code == 200
    issues, environments, releases = (account.get(list_path).json() for list_path in side_effects)
    assert len(issues) == 1 and [environment["name"] for environment in environments] == ["staging"]
    assert [(release["version"], release["dateReleased"]) for release in releases] == [("web@7", None)]


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


# 6. Some item types are accepted and then dropped.

def transaction(event_id: str, name: str = "GET /forecast/") -> dict:
    return {"type": "transaction", "event_id": event_id, "transaction": name, "platform": "python",
            "start_timestamp": "2026-11-28T09:45:41.000000Z", "timestamp": "2026-11-28T09:45:41.250000Z",
            "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16],
                                   "op": "http.server"}}}


def test_items_glitchtip_does_not_keep_are_accepted_and_dropped(account, clock):
    ignored = [("profile", {"version": "1"}), ("check_in", {"monitor_slug": "nightly", "status": "ok"}),
               ("log", {"items": []}), ("session", {"sid": str(uuid.uuid4()), "status": "exited"}),
               ("client_report", {"discarded_events": []})]
    for kind, payload in ignored:
        response = account.send_envelope({}, [(kind, payload)])
        assert (response.status_code, response.json(), response.headers["Content-Type"]) == (
            200, {}, "application/json"), kind
    kept = uuid.uuid4().hex
    response = account.send_envelope({"event_id": kept},
                                     [("profile", {"version": "1"}), ("transaction", transaction(kept))])
    assert response.json() == {"id": kept}
    clock.advance(2.5)
    assert account.get(issues_path(account)).json() == []
    assert account.get(f"/api/0/organizations/{account.org}/monitors/").json() == []  # no monitor from check_in
    transactions = account.get(f"/api/0/organizations/{account.org}/transactions/").json()
    assert [item["event_id"] for item in transactions] == [str(uuid.UUID(kept))]
    groups = account.get(f"/api/0/organizations/{account.org}/transaction-groups/").json()
    assert [(group["transaction"], group["avgDuration"], group["op"]) for group in groups] == [
        ("GET /forecast/", 250, "http.server")]


# 7. Authentication.

def test_missing_or_unknown_credentials(account):
    url = f"{account.double.url}/api/0/organizations/"
    unknown = {"Authorization": f"Bearer {'0' * 40}"}
    for response in (requests.get(url, timeout=5), requests.get(url, headers=unknown, timeout=5)):
        assert (response.status_code, response.json()) == (401, {"detail": "Unauthorized"})
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    post = requests.post(url, json={"name": "x"}, headers=unknown, timeout=5)
    assert (post.status_code, post.json()) == (403, {"detail": "CSRF check Failed"})


def test_api_tokens_are_managed_with_a_session_only(account):
    tokens = f"{account.double.url}/api/0/api-tokens/"
    bearer = {"Authorization": f"Bearer {account.token}"}
    post = requests.post(tokens, json={"label": "x", "scopes": ["org:read"]}, headers=bearer, timeout=5)
    assert (post.status_code, post.json()) == (403, {"detail": "CSRF check Failed"})
    assert requests.get(tokens, headers=bearer, timeout=5).status_code == 401


def test_a_session_needs_the_csrf_header_on_unsafe_methods(account):
    session = browser_login(account.double)
    url = f"{account.double.url}/api/0/organizations/"
    assert session.get(url, timeout=5).status_code == 200
    refused = session.post(url, json={"name": "Beta"}, timeout=5)
    assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF check Failed"})
    assert session.post(url, json={"name": "Beta"}, headers={"X-CSRFToken": session.cookies["csrftoken"]},
                        timeout=5).status_code == 201


def test_a_token_without_the_needed_scope_is_permission_denied(account):
    readonly = {"Authorization": f"Bearer {account.double.create_token(account.user, ['org:read'])}"}
    no_releases = {"Authorization": f"Bearer {account.double.create_token(account.user, SCOPES[:3] + SCOPES[4:])}"}
    assert account.get("/api/0/organizations/", headers=readonly).status_code == 200
    for response in (account.post("/api/0/organizations/", {"name": "Beta"}, headers=readonly),
                     account.get(f"/api/0/organizations/{account.org}/releases/", headers=no_releases),
                     account.post(f"/api/0/projects/{account.org}/web/releases/", {"version": "1"},
                                  headers=no_releases)):
        assert (response.status_code, response.json()) == (403, {"detail": "Permission denied"})


def test_scopes_come_back_in_the_servers_order(account):
    session = browser_login(account.double)
    wanted = ["member:read", "event:read", "org:read", "project:releases", "project:read"]
    created = session.post(f"{account.double.url}/api/0/api-tokens/", json={"label": "x", "scopes": wanted},
                           headers={"X-CSRFToken": session.cookies["csrftoken"]}, timeout=5).json()
    assert created["scopes"] == ["project:read", "project:releases", "event:read", "org:read", "member:read"]


# 8. allauth headless (browser client).

def test_the_allauth_browser_login(account):
    base = f"{account.double.url}/_allauth/browser/v1"
    config = requests.get(f"{base}/config", timeout=5)
    assert config.headers["Content-Type"] == "application/json" and "csrftoken" in config.cookies
    csrf = config.cookies["csrftoken"]
    login = f"{base}/auth/login"
    body = {"email": EMAIL, "password": PASSWORD}
    no_header = requests.post(login, json=body, cookies={"csrftoken": csrf}, timeout=5)
    assert no_header.status_code == 403 and no_header.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "CSRF verification failed" in no_header.text
    wrong = requests.post(login, json={**body, "password": "nope"}, cookies={"csrftoken": csrf},
                          headers={"X-CSRFToken": csrf}, timeout=5)
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == "email_password_mismatch"
    assert wrong.cookies["csrftoken"] == csrf  # re-sent, unchanged
    right = requests.post(login, json=body, cookies={"csrftoken": csrf}, headers={"X-CSRFToken": csrf}, timeout=5)
    assert right.status_code == 200 and right.json()["meta"] == {"is_authenticated": True}
    assert right.cookies["csrftoken"] != csrf and right.cookies["sessionid"]
    session = requests.get(f"{base}/auth/session", cookies=right.cookies, timeout=5)
    assert session.json()["data"]["user"]["email"] == EMAIL
    assert requests.get(f"{base}/auth/session", timeout=5).json()["meta"] == {"is_authenticated": False}


# 9. Smaller details.

def test_health_is_plain_text_ok(glitchtip):
    response = requests.get(f"{glitchtip.url}/_health/", timeout=5)
    assert (response.status_code, response.text, response.headers["Content-Type"]) == (200, "ok", "text/plain")


def test_a_minimal_store_event_becomes_a_default_issue(account, clock):
    event_id = uuid.uuid4().hex
    stored = account.store({"event_id": event_id, "message": "bare"})
    assert stored.json() == {"event_id": event_id, "task_id": None}
    assert stored.headers["Content-Type"] == "application/json; charset=utf-8"
    clock.advance(2.5)
    issue = account.get(issues_path(account)).json()[0]
    assert (issue["type"], issue["level"], issue["title"], issue["metadata"]) == ("default", "error", "bare", {})
    event = account.get(f"/api/0/projects/{account.org}/web/events/{event_id}/").json()
    assert (event["platform"], event["tags"], event["entries"]) == (
        None, [], [{"type": "message", "data": {"formatted": "bare"}}])


def test_the_configured_domain_goes_into_dsns_heartbeats_and_permalinks(account, clock):
    account.double.domain = "https://glitchtip.example.com"
    key = account.get(f"/api/0/projects/{account.org}/web/keys/").json()[0]
    assert key["dsn"]["public"] == f"https://{account.key}@glitchtip.example.com/{account.project.id}"
    assert key["dsn"]["secret"] == key["dsn"]["public"] and key["id"] == key["public"] == str(uuid.UUID(account.key))
    monitor = account.post(f"/api/0/organizations/{account.org}/monitors/", {
        "monitorType": "Heartbeat", "name": "nightly", "expectedBody": "", "expectedStatus": None,
        "timeout": None}).json()
    assert monitor["heartbeatEndpoint"].startswith(f"https://glitchtip.example.com/api/0/organizations/{account.org}/")
    account.send_event()
    clock.advance(2.5)
    issues = account.get(issues_path(account))
    assert issues.json()[0]["permalink"] == f"https://glitchtip.example.com/web/issues/{issues.json()[0]['id']}"
    # Like Django's build_absolute_uri, the Link header names the host the client asked.
    assert f"<{account.double.url}/api/0/" in issues.headers["Link"]


# ---- the double's own knobs and the rest of what the scripts use --------------------------

def test_a_path_without_its_trailing_slash_is_redirected_and_an_unknown_one_is_djangos_404(account):
    redirect = account.post("/api/0/organizations", {"name": "Beta"}, allow_redirects=False)
    assert (redirect.status_code, redirect.headers["Location"]) == (301, "/api/0/organizations/")
    missing = account.get("/api/0/nothing-here/")
    assert missing.status_code == 404 and "<title>Not Found</title>" in missing.text


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


def test_the_same_error_twice_is_one_issue_counted_twice(account, clock):
    error = {"exception": {"values": [{"type": "ValueError", "value": "bad input", "stacktrace": {"frames": [
        {"filename": "forecast/jobs.py", "module": "forecast.jobs", "function": "collect", "lineno": 3,
         "in_app": True}]}}]}}
    first, second = account.send_event(**error).json()["id"], account.send_event(**error).json()["id"]
    account.send_event(message="something else")
    clock.advance(2.5)
    issues = account.get(issues_path(account)).json()
    by_title = {issue["title"]: issue for issue in issues}
    assert set(by_title) == {"ValueError: bad input", "something else"}
    assert by_title["ValueError: bad input"]["count"] == "2"
    listed = account.get(f"/api/0/issues/{by_title['ValueError: bad input']['id']}/events/").json()
    assert [event["event_id"] for event in listed] == [second, first]
    assert listed[0]["culprit"] == "forecast.jobs in collect"


def test_issue_queries(account, clock):
    """`key:value` tag terms are supported: GlitchTip filters on the issue's tags (apps/issue_events)."""
    tagged = account.send_event(message="nightly job failed", tags={"run_id": "abc"}).json()["id"]
    account.send_event(message="weather fetch slow", level="warning", tags={"run_id": "def"})
    account.send_event(message="untagged", environment="staging")
    clock.advance(2.5)

    def titles(query: str, **params) -> list[str]:
        return sorted(issue["title"] for issue in account.get(issues_path(account),
                                                              params={"query": query, **params}).json())

    assert titles("run_id:abc") == ["nightly job failed"]
    assert titles("has:run_id") == ["nightly job failed", "weather fetch slow"]
    assert titles("level:warning") == ["weather fetch slow"]
    assert titles("is:resolved") == []
    assert titles("run_id:abc nightly") == ["nightly job failed"]
    assert titles("job failed") == ["nightly job failed"]
    assert titles("*fetch*") == ["weather fetch slow"]
    assert titles("", environment="staging") == ["untagged"]
    direct = account.get(issues_path(account), params={"query": tagged})
    assert direct.headers["X-Sentry-Direct-Hit"] == "1"
    assert [(issue["title"], issue["matchingEventId"]) for issue in direct.json()] == [("nightly job failed", tagged)]


def test_resolved_issues_are_listed_unless_the_query_asks_for_another_status(account, clock):
    """The recorder noted "default query is:unresolved", but GlitchTip's list views apply no
    default filter (that default lives in its web UI); the double follows the server."""
    account.send_event(message="flaky")
    clock.advance(2.5)
    account.double.state.issues[0].status = "resolved"
    assert [issue["status"] for issue in account.get(issues_path(account)).json()] == ["resolved"]
    assert account.get(issues_path(account), params={"query": "is:unresolved"}).json() == []
    account.send_event(message="flaky")  # a new event reopens the issue
    clock.advance(2.5)
    assert [issue["status"] for issue in account.get(issues_path(account)).json()] == ["unresolved"]


def test_an_event_from_a_request_has_a_request_entry_and_its_transaction_as_culprit(account, clock):
    event_id = account.send_event(transaction="/forecast/{id}/", request={
        "url": "http://app.example/forecast/3/", "method": "GET", "query_string": "days=3",
        "headers": {"Content-Type": "text/html", "User-Agent": "pytest"}}).json()["id"]
    clock.advance(2.5)
    event = account.get(f"/api/0/projects/{account.org}/web/events/{event_id}/").json()
    assert event["culprit"] == "/forecast/{id}/"
    request = next(entry["data"] for entry in event["entries"] if entry["type"] == "request")
    assert (request["url"], request["method"], request["query"], request["inferredContentType"]) == (
        "http://app.example/forecast/3/", "GET", [["days", "3"]], "text/html")
    assert request["headers"] == [["Content-Type", "text/html"], ["User-Agent", "pytest"]]


def test_uptime_monitors_are_shaped_like_heartbeats(account):
    monitors = f"/api/0/organizations/{account.org}/monitors/"
    base = {"monitorType": "GET", "name": "app", "url": "http://app.internal/healthz", "expectedBody": "",
            "expectedStatus": 200, "timeout": None, "project": str(account.project.id)}
    for broken, detail in (({"expectedStatus": None}, "Expected status is required for GET"),
                           ({"url": "http://nginx/healthz"}, "Invalid Url"),
                           ({"monitorType": "Ping", "url": ""}, "URL is required for Ping")):
        response = account.post(monitors, {**base, **broken})
        assert (response.status_code, response.json()) == (422, {"detail": detail})
    missing = account.post(monitors, {key: value for key, value in base.items() if key != "expectedBody"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "payload", "expectedBody"]
    created = account.post(monitors, base)
    assert created.status_code == 201
    assert (created.json()["heartbeatEndpoint"], created.json()["endpointID"], created.json()["checks"]) == (
        None, None, [])


def test_events_sent_by_the_real_sentry_sdk(account, clock):
    client = sentry_sdk.Client(dsn=account.double.dsn(account.project), environment="ci", release="web@2",
                               default_integrations=False)
    with sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.set_tag("run_id", "sdk")
        try:
            raise RuntimeError("from the SDK")
        except RuntimeError:
            event_id = scope.capture_exception()
    client.flush(timeout=5)
    client.close()
    clock.advance(2.5)
    event = account.get(f"/api/0/projects/{account.org}/web/events/{event_id}/").json()
    assert event["title"] == "RuntimeError: from the SDK" and event["type"] == "error"
    assert {"run_id": "sdk", "environment": "ci", "release": "web@2"}.items() <= {
        tag["key"]: tag["value"] for tag in event["tags"]}.items()
    assert event["entries"][0]["type"] == "exception"


def test_public_settings_and_organization_creation(glitchtip):
    settings = requests.get(f"{glitchtip.url}/api/settings/", timeout=5).json()
    assert settings["enableUserRegistration"] is True  # the first user may always sign up
    user = glitchtip.create_user("member@example.com", PASSWORD)
    glitchtip.organization_creation_open = False
    settings = requests.get(f"{glitchtip.url}/api/settings/", timeout=5).json()
    assert (settings["enableUserRegistration"], settings["enableOrganizationCreation"]) == (False, False)
    refused = requests.post(f"{glitchtip.url}/api/0/organizations/", json={"name": "Mine"}, timeout=5,
                            headers={"Authorization": f"Bearer {glitchtip.create_token(user)}"})
    assert (refused.status_code, refused.json()) == (403, {"detail": "Organization creation is not open"})
