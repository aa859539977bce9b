"""The scripts' GlitchTip client: the quirky Link header and pagination, against the recording and the double."""

import json

import pytest

from glitchtip.client import GlitchTipClient, GlitchTipError, next_cursor
from tests.harness.processes import REPO

EXCHANGES = REPO / "tests" / "glitchtip" / "contract" / "exchanges"


def recorded_link(name: str) -> str:
    return json.loads((EXCHANGES / name).read_text())["response"]["headers"]["Link"]


def test_next_cursor_from_the_recorded_link_headers():
    assert next_cursor(recorded_link("41-issues-list-limit-1.json"))
    assert next_cursor(recorded_link("40-issues-list.json")) is None  # results="false": the last page


def test_get_all_follows_the_cursor_across_pages(glitchtip):
    admin = glitchtip.create_user("admin@example.com", "a-Long-passw0rd", superuser=True)
    client = GlitchTipClient(glitchtip.url, glitchtip.create_token(admin))
    for name in ("One", "Two", "Three"):
        client.create_organization(name)
    names = [item["name"] for item in client.get_all("/api/0/organizations/", limit=1)]
    assert sorted(names) == ["One", "Three", "Two"]
    assert len([r for r in glitchtip.requests if r.path == "/api/0/organizations/" and r.method == "GET"]) == 3


def test_errors_carry_status_and_detail(glitchtip):
    client = GlitchTipClient(glitchtip.url, "0" * 40)
    with pytest.raises(GlitchTipError) as caught:
        client.organizations()
    assert (caught.value.status, caught.value.detail) == (401, "Unauthorized")
    assert client.token_works() is False


def test_unreachable_is_an_error_without_status():
    client = GlitchTipClient("http://127.0.0.1:9")
    assert client.healthy() is False
    with pytest.raises(GlitchTipError, match="not reachable") as caught:
        client.organizations()
    assert caught.value.status is None
