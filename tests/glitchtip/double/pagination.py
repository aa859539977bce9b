"""GlitchTip's list pagination: cursors, `X-Hits`, `X-Max-Hits` and the quirky `Link` header.

GlitchTip pages with django-ninja-cursor-pagination (a port of DRF's CursorPagination): a cursor
is a base64 query string with a position `p` (the str() of the ordering field of the item at the
page boundary) and `r=1` when it points backwards. The `Link` value is the str() of a Python set
holding one string, so it comes out wrapped in `{'` ... `'}`. "next" points after the page's
last item, "previous" before its first. DRF's offsets for items that share a position are left
out: here every position differs (ids, names, and timestamps from a clock that ticks on reading).
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from tests.harness.http_fake import Request

from . import wire

PER_PAGE = 50  # NINJA_PAGINATION_PER_PAGE
MAX_PAGE_SIZE = 100


@dataclass
class Listing:
    """What a list handler returns: the items, Django-style ordering and how to show one item."""

    items: list
    order: str
    serialize: Callable[[Any], dict]


def paginate(listing: Listing, request: Request) -> tuple[list[dict], dict]:
    """(the page's items as JSON, the pagination headers) for `request`."""
    attribute, descending = listing.order.lstrip("-"), listing.order.startswith("-")
    ordered = sorted(listing.items, key=lambda item: getattr(item, attribute), reverse=descending)
    positions = [getattr(item, attribute) for item in ordered]
    limit = request.param("limit") or "0"
    if not limit.isdigit():
        raise wire.invalid(
            "query", "limit", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
        )
    size = min(int(limit) or PER_PAGE, MAX_PAGE_SIZE)
    try:
        cursor = parse_qs(b64decode(request.param("cursor") or "").decode())
        bound = _position(cursor["p"][0], positions[0]) if "p" in cursor and positions else None
    except (ValueError, KeyError):
        raise wire.invalid("query", "cursor", "value_error", "Value error, Invalid cursor.") from None
    reverse = cursor.get("r") == ["1"]
    start, end = 0, len(ordered)
    if bound is not None:
        # How many items come before the bound in this order; a backward page ends there.
        before = sum(1 for position in positions if (position > bound if descending else position < bound))
        start, end = (max(before - size, 0), before) if reverse else (before + positions.count(bound), end)
    if bound is None or not reverse:
        end = min(start + size, len(ordered))
    url = _absolute_url(request)
    previous = _link(url, "previous", str(positions[start]) if 0 < start < end else None, reverse=True)
    following = _link(url, "next", str(positions[end - 1]) if start < end < len(ordered) else None)
    headers = {"Link": str({f"{previous}, {following}"}), "X-Max-Hits": "1000", "X-Hits": str(min(len(ordered), 1000))}
    return [listing.serialize(item) for item in ordered[start:end]], headers


def _position(text: str, sample):
    """A cursor position back into a value comparable with the ordering field."""
    return datetime.fromisoformat(text) if isinstance(sample, datetime) else type(sample)(text)


def _absolute_url(request: Request) -> str:
    """Django's build_absolute_uri: the Host the client used, not the configured domain."""
    query = urlencode(request.query, doseq=True)
    return f"http://{request.headers.get('host', '')}{request.path}" + (f"?{query}" if query else "")


def _link(url: str, rel: str, position: str | None, reverse: bool = False) -> str:
    """One entry of the Link header; with a position, `url` gets its cursor and the query is re-sorted."""
    if position is None:
        return f'<{url}>; rel="{rel}"; results="false"'
    cursor = b64encode(urlencode({"r": "1", "p": position} if reverse else {"p": position}).encode()).decode()
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = {**parse_qs(query, keep_blank_values=True), "cursor": [cursor]}
    target = urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))
    return f'<{target}>; rel="{rel}"; results="true"; cursor="{cursor}"'
