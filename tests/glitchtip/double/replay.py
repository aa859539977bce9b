"""Replaying recorded GlitchTip exchanges (tests/glitchtip/contract/) against the double: each recorded
request, in file order, with this run's values in place of the recorded ones, its answer compared with the
recorded one (status, the headers the recorder kept, the body key for key and value for value; values of
the server's clock and random choices by their form, each learned on first sight so that later uses agree).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.glitchtip.double import GlitchTipDouble, ManualClock

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Placeholders and values the server chose (UUIDs too): the double picks its own, which must have the same form.
SERVER_CHOSEN = {
    "<token>": r"[0-9a-f]{40}",
    "<readonly_token>": r"[0-9a-f]{40}",
    "<public_key>": r"[0-9a-f]{32}",
    "<public_key_uuid>": UUID,
    "contract-recording-o5": r"contract-recording-[a-z0-9]{2}",
}
# Keys whose values come from the server's clock: only their form is compared.
CLOCK_KEYS = set(
    "created dateCreated dateReceived dateJoined firstEvent dateReleased startCheck start_check lastChange at".split()
)
LINK_ENTRY = re.compile(
    r'<(?P<url>[^>]*)>; rel="(?P<rel>\w+)"; results="(?P<results>\w+)"'
    r'(?:; cursor="(?P<cursor>[^"]*)")?'
)
StandIn = Callable[["Replay", dict], "requests.Response | None"]


@dataclass
class Recording:
    folder: Path
    host: str  # the recorded server's address, in URLs and Link headers
    headers: tuple[str, ...]  # the response headers the recorder kept, lower case
    values: dict[str, str] = field(default_factory=dict)  # recorded placeholder -> this run's value
    # Exchanges of endpoints no product code calls: not replayed, and why.
    skipped: dict[int, str] = field(default_factory=dict)
    # What stands in for an exchange whose effect later exchanges see (the request as the bundle would send
    # it, or a change of the double's state); the answer of a replayed exchange's stand-in is compared.
    stand_ins: dict[int, StandIn] = field(default_factory=dict)
    wait_before: dict[int, float] = field(default_factory=dict)  # seconds that passed before an exchange
    token: Callable[[dict], str] | None = None  # the value of "<token>" in an exchange, if it varies

    def exchanges(self) -> dict[int, Path]:
        return {int(path.name[:2]): path for path in sorted(self.folder.glob("*.json"))}

    def replayed(self) -> list[int]:
        return [number for number in self.exchanges() if number not in self.skipped]


class Replay:
    """Sends the recorded requests to the double, with the values it chose, and lists mismatches."""

    def __init__(self, double: GlitchTipDouble, clock: ManualClock, recording: Recording):
        self.double = double
        self.clock = clock
        self.recording = recording
        self.values = {recording.host: urlsplit(double.url).netloc, **recording.values}
        self.cookies: dict[str, str] = {}
        self.outcomes: dict[int, list[str]] = {}

    def outcome(self, number: int) -> list[str]:
        """How exchange `number` differed from the recording, the earlier ones replayed first."""
        for earlier, path in self.recording.exchanges().items():
            if earlier <= number and earlier not in self.outcomes:
                self.outcomes[earlier] = self.run(earlier, json.loads(path.read_text()))
        return self.outcomes[number]

    def run(self, number: int, exchange: dict) -> list[str]:
        self.clock.advance(self.recording.wait_before.get(number, 0))
        if self.recording.token:
            self.values["<token>"] = self.recording.token(exchange)
        stand_in = self.recording.stand_ins.get(number)
        if stand_in is None and number in self.recording.skipped:
            return []
        response = stand_in(self, exchange) if stand_in else self.send(exchange["request"])
        if response is None or number in self.recording.skipped:
            return []
        return self.mismatches(exchange["response"], response)

    def send(self, recorded: dict) -> requests.Response:
        headers = {name: self.fill(value) for name, value in recorded["headers"].items()}
        if "Cookie" in headers:  # the recorder kept the cookies' names
            headers["Cookie"] = "; ".join(
                f"{name}={self.cookies[name]}" for name in re.findall(r"(\w+)=", recorded["headers"]["Cookie"])
            )
        if "X-CSRFToken" in headers:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        body = recorded["body"]
        if body is not None:
            body = (json.dumps(self.fill(body)) if isinstance(body, (dict, list)) else self.fill(body)).encode()
            body = gzip.compress(body) if headers.get("Content-Encoding") == "gzip" else body
        query = [
            (name, self.fill(item))
            for name, value in recorded["query"].items()
            for item in (value if isinstance(value, list) else [value])
        ]
        response = requests.request(
            recorded["method"],
            self.double.url + self.fill(recorded["path"]),
            params=query,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=5,
        )
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
    def mismatches(self, recorded: dict, response: requests.Response) -> list[str]:
        problems: list[str] = []
        expect = {name.lower(): value for name, value in recorded["headers"].items()}
        if response.status_code != recorded["status"]:
            problems.append(f"status {response.status_code} != {recorded['status']}: {response.text[:300]}")
        if "set-cookie" in self.recording.headers:
            names = sorted(name for line in response.raw.headers.getlist("Set-Cookie") for name in SimpleCookie(line))
            if names != sorted(expect.get("set-cookie", [])):
                problems.append(f"Set-Cookie {names} != {expect.get('set-cookie', [])}")
        for name in {"content-type", "x-hits", "x-max-hits", "allow", "retry-after"} & set(self.recording.headers):
            if response.headers.get(name) != expect.get(name):
                problems.append(f"{name} {response.headers.get(name)!r} != {expect.get(name)!r}")
        link = response.headers.get("Link")
        if "link" in expect or link:
            if link is None or not (link.startswith("{'") and link.endswith("'}")):  # a Python set's repr
                problems.append(f"Link {link!r} is not like {expect.get('link')!r}")
            elif link_entries(link) != link_entries(self.fill(expect.get("link", ""))):
                problems.append(f"Link {link!r} != {expect.get('link')!r}")
        if expect["content-type"].startswith("application/json"):
            self.compare_json(recorded["body"], response.json(), "body", problems)
        else:
            self.compare_text(recorded["body"], response.text, "body", problems)
        return problems

    def compare_json(self, recorded, actual, where: str, problems: list[str]) -> None:
        """Same keys (recursively), same list lengths, same values; clock values in the same form."""
        key = where.rsplit(".", 1)[-1]
        if isinstance(recorded, dict) and isinstance(actual, dict) and set(recorded) == set(actual):
            for name in recorded:
                self.compare_json(recorded[name], actual[name], f"{where}.{name}", problems)
        elif isinstance(recorded, list) and isinstance(actual, list) and len(recorded) == len(actual):
            if key == "access":  # a Python set on the server: its order differs from process to process
                recorded, actual = sorted(recorded), sorted(actual)
            for index, (expected, got) in enumerate(zip(recorded, actual, strict=True)):
                self.compare_json(expected, got, f"{where}[{index}]", problems)
        elif isinstance(recorded, (dict, list)):
            problems.append(f"{where}: {json.dumps(actual)[:300]} is not like {json.dumps(recorded)[:300]}")
        elif key in CLOCK_KEYS:
            if type(actual) is not type(recorded) or (isinstance(recorded, str) and shape(actual) != shape(recorded)):
                problems.append(f"{where}: {actual!r} is not like {recorded!r}")
        elif isinstance(recorded, str):
            self.compare_text(recorded, actual, where, problems)
        elif type(actual) is not type(recorded) or actual != recorded:
            problems.append(f"{where}: {actual!r} != {recorded!r}")

    def compare_text(self, recorded: str, actual, where: str, problems: list[str]) -> None:
        """Equal after substitution; server-chosen values not known yet (a UUID also in its hex form) are learned."""
        expected = self.fill(recorded)
        unknown = {token: pattern for token, pattern in SERVER_CHOSEN.items() if token in expected}
        for value in re.findall(UUID, recorded):
            if value not in self.values:
                forms = {value: UUID, value.replace("-", ""): "[0-9a-f]{32}"}
                unknown.update({form: pattern for form, pattern in forms.items() if form in expected})
        pattern = re.escape(expected)
        for index, token in enumerate(unknown):
            pattern = pattern.replace(re.escape(token), f"(?P<g{index}>{unknown[token]})", 1)
            pattern = pattern.replace(re.escape(token), f"(?P=g{index})")
        match = re.fullmatch(pattern, actual) if isinstance(actual, str) else None
        if match is None:
            problems.append(f"{where}: {actual!r} does not fit {expected!r}")
            return
        for index, token in enumerate(unknown):
            self.values[token] = match.group(f"g{index}")
            if re.fullmatch(UUID, token):
                self.values[token.replace("-", "")] = self.values[token].replace("-", "")


def link_entries(link: str) -> list[tuple]:
    """A Link header's entries: the URL without its cursor, whether the URL carries the entry's cursor,
    rel, results and the cursor's form (cursors encode the server's clock)."""
    entries = []
    for entry in LINK_ENTRY.finditer(link):
        url = urlsplit(entry["url"])
        query = parse_qsl(url.query)
        without_cursor = [item for item in query if item[0] != "cursor"]
        carries_cursor = dict(query).get("cursor") == entry["cursor"]
        rest = (entry["rel"], entry["results"], cursor_form(entry["cursor"] or ""))
        entries.append((url[:3], without_cursor, carries_cursor, *rest))
    return entries


def shape(text: str) -> str:
    """A timestamp's form: digits blanked out, precision and zone kept."""
    return re.sub(r"\d", "0", text)


def cursor_form(cursor: str) -> list[tuple[str, str]]:
    """A cursor's direction as it is, its position (a timestamp) by form only."""
    tokens = parse_qsl(base64.b64decode(cursor).decode())
    return [(name, shape(value) if name == "p" else value) for name, value in tokens]
