"""GlitchTip's list pagination: cursors, `X-Hits`, `X-Max-Hits` and the quirky `Link` header.

GlitchTip pages with django-ninja-cursor-pagination (a port of DRF's CursorPagination): a cursor
is a base64 query string with a position `p` (the str() of the ordering field of the item at the
page boundary) and `r=1` when it points backwards. The `Link` value is the str() of a Python set
holding one string, so it comes out wrapped in `{'` ... `'}`.

What the recording shows is reproduced: "next" points after the page's last item, "previous"
before its first. DRF's offsets for items that share a position are left out: here every
position differs (timestamps from the clock, which ticks on every reading, and names).
"""
from __future__ import annotations

from base64 import b64decode, b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from . import wire

PER_PAGE = 50  # NINJA_PAGINATION_PER_PAGE
MAX_PAGE_SIZE = 100
MAX_HITS = 1000


@dataclass
class Listing:
    """What a list handler returns: the items, Django-style ordering and how to show one item."""
    items: list
    order: str
    serialize: Callable[[Any], dict]


@dataclass
class Cursor:
    position: str
    reverse: bool = False

    @classmethod
    def decode(cls, encoded: str) -> Cursor:
        try:
            tokens = parse_qs(b64decode(encoded).decode(), keep_blank_values=True)
            return cls(position=tokens["p"][0], reverse=tokens.get("r", ["0"])[0] == "1")
        except (KeyError, ValueError):
            raise wire.invalid("query", "cursor", "value_error", "Value error, Invalid cursor.") from None

    def encode(self) -> str:
        tokens = {"r": "1", "p": self.position} if self.reverse else {"p": self.position}
        return b64encode(urlencode(tokens).encode()).decode()


def paginate(listing: Listing, url: str, limit: str | None, cursor: str | None) -> tuple[list[dict], dict]:
    """(the page's items as JSON, the pagination headers) for a request to `url`."""
    attribute = listing.order.lstrip("-")
    descending = listing.order.startswith("-")
    size = _page_size(limit)

    def value(item):
        return getattr(item, attribute)

    ordered = sorted(listing.items, key=value, reverse=descending)
    start, end = 0, len(ordered)
    current = Cursor.decode(cursor) if cursor is not None else None
    if current is not None and ordered:
        bound = _parse_position(current.position, value(ordered[0]))
        # How many items come before the bound in this order, and so where the page starts or ends.
        before = sum(1 for item in ordered if (value(item) > bound if descending else value(item) < bound))
        if current.reverse:
            end, start = before, max(before - size, 0)
        else:
            at_bound = sum(1 for item in ordered if value(item) == bound)
            start = before + at_bound
    if current is None or not current.reverse:
        end = min(start + size, len(ordered))
    page = ordered[start:end]
    previous = Cursor(str(value(page[0])), reverse=True) if page and start > 0 else None
    following = Cursor(str(value(page[-1]))) if page and end < len(ordered) else None
    link = str({f"{_link(url, 'previous', previous)}, {_link(url, 'next', following)}"})
    headers = {"Link": link, "X-Max-Hits": str(MAX_HITS), "X-Hits": str(min(len(ordered), MAX_HITS))}
    return [listing.serialize(item) for item in page], headers


def _page_size(limit: str | None) -> int:
    try:
        return min(max(int(limit or 0) or PER_PAGE, 0), MAX_PAGE_SIZE)
    except ValueError:
        raise wire.invalid("query", "limit", "int_parsing",
                           "Input should be a valid integer, unable to parse string as an integer") from None


def _parse_position(text: str, sample):
    """A cursor position back into a value comparable with the ordering field."""
    if isinstance(sample, datetime):
        return datetime.fromisoformat(text)
    if isinstance(sample, (int, float)):
        return type(sample)(float(text))
    return text


def _link(url: str, rel: str, cursor: Cursor | None) -> str:
    """One entry of the Link header; with a cursor, `url` gets it and the query is re-sorted."""
    if cursor is None:
        return f'<{url}>; rel="{rel}"; results="false"'
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params["cursor"] = [cursor.encode()]
    target = urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))
    return f'<{target}>; rel="{rel}"; results="true"; cursor="{params["cursor"][0]}"'
