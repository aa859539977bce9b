"""GlitchTip's list pagination: cursors, `X-Hits`, `X-Max-Hits` and the quirky `Link` header.

This follows glitchtip.api.pagination.AsyncLinkHeaderPagination on top of
django-ninja-cursor-pagination (a port of DRF's CursorPagination): a cursor is a base64
query string with an offset `o`, a reverse flag `r` and a position `p` (the str() of the
ordering field of the item at the page boundary). The `Link` value is the str() of a Python
set holding one string, so it comes out wrapped in `{'` ... `'}`.
"""
from __future__ import annotations

from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from . import wire

PER_PAGE = 50  # NINJA_PAGINATION_PER_PAGE
MAX_PAGE_SIZE = 100
MAX_HITS = 1000
OFFSET_CUTOFF = 100


@dataclass
class Listing:
    """What a list handler returns: the items, Django-style ordering and how to show one item."""
    items: list
    order: str
    serialize: Callable[[Any], dict]
    headers: dict[str, str] = field(default_factory=dict)  # sent besides the pagination headers


@dataclass
class Cursor:
    offset: int = 0
    reverse: bool = False
    position: str | None = None

    @classmethod
    def decode(cls, encoded: str | None) -> Cursor:
        if encoded is None:
            return cls()
        try:
            tokens = parse_qs(b64decode(encoded).decode(), keep_blank_values=True)
            return cls(offset=min(max(int(tokens.get("o", ["0"])[0]), 0), OFFSET_CUTOFF),
                       reverse=bool(int(tokens.get("r", ["0"])[0])),
                       position=tokens.get("p", [None])[0])
        except (TypeError, ValueError):
            raise wire.invalid("query", "cursor", "value_error", "Value error, Invalid cursor.")

    def encode(self) -> str:
        tokens = {}
        if self.offset:
            tokens["o"] = str(self.offset)
        if self.reverse:
            tokens["r"] = "1"
        if self.position is not None:
            tokens["p"] = self.position
        return b64encode(urlencode(tokens).encode()).decode()


def paginate(listing: Listing, url: str, limit: str | None, cursor: str | None):
    """(the page's items as JSON, the pagination headers) for a request to `url`."""
    descending = listing.order.startswith("-")
    attribute = listing.order.lstrip("-")
    size = _page_size(limit)
    current = Cursor.decode(cursor)

    def value(item):
        return getattr(item, attribute)

    def position(item) -> str:
        return str(value(item))

    # Python's sort is stable: ties keep creation order, as the database happened to.
    items = sorted(listing.items, key=value, reverse=descending != current.reverse)
    if current.position is not None and items:
        bound = _parse_position(current.position, value(items[0]))
        if current.reverse != descending:
            items = [item for item in items if value(item) < bound]
        else:
            items = [item for item in items if value(item) > bound]
    results = items[current.offset:current.offset + size + 1]
    page = results[:size]
    following = position(results[-1]) if len(results) > len(page) else None
    started = current.position is not None or current.offset > 0
    if current.reverse:
        page.reverse()
        has_next, has_previous = started, following is not None
        next_position, previous_position = current.position, following
    else:
        has_next, has_previous = following is not None, started
        next_position, previous_position = following, current.position

    backwards = _link_cursor(page, position, current, size, backwards=True, own=previous_position,
                             other=next_position, other_exists=has_next) if has_previous else None
    forwards = _link_cursor(page, position, current, size, backwards=False, own=next_position,
                            other=previous_position, other_exists=has_previous) if has_next else None
    links = (_link(url, "previous", backwards), _link(url, "next", forwards))
    total = min(len(listing.items), MAX_HITS) if has_next or has_previous else len(page)
    headers = {"Link": str({", ".join(links)}), "X-Max-Hits": str(MAX_HITS), "X-Hits": str(total)}
    return [listing.serialize(item) for item in page], headers


def _page_size(limit: str | None) -> int:
    try:
        return min(max(int(limit or 0) or PER_PAGE, 0), MAX_PAGE_SIZE)
    except ValueError:
        raise wire.invalid("query", "limit", "int_parsing",
                           "Input should be a valid integer, unable to parse string as an integer")


def _link_cursor(page: list, position, current: Cursor, size: int, *, backwards: bool,
                 own: str | None, other: str | None, other_exists: bool) -> Cursor:
    """The cursor of the "next" link, or with `backwards` of the "previous" one (DRF's logic).

    Walking from the far edge of the page inwards, the first item whose position differs from
    the one beyond it becomes the marker; items sharing a position are skipped by an offset.
    """
    if page and current.offset and current.reverse != backwards:
        compare = position(page[0] if backwards else page[-1])
    else:
        compare = own
    offset, marker, unique = 0, own, False
    for item in page if backwards else reversed(page):
        marker = position(item)
        if marker != compare:
            unique = True
            break
        compare = marker
        offset += 1
    if page and not unique:
        if not other_exists:
            offset, marker = size, None
        else:
            offset = current.offset + size if current.reverse == backwards else 0
            marker = other
    if not page:
        marker = own
    return Cursor(offset=offset, reverse=backwards, position=marker)


def _parse_position(text: str, sample):
    """A cursor position back into a value comparable with the ordering field."""
    if isinstance(sample, datetime):
        return datetime.fromisoformat(text)
    if isinstance(sample, (int, float)):
        return type(sample)(float(text))
    return text


def _link(url: str, rel: str, cursor: Cursor | None = None) -> str:
    """One entry of the Link header; with a cursor, `url` gets it and the query is re-sorted."""
    if cursor is None:
        return f'<{url}>; rel="{rel}"; results="false"'
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params["cursor"] = [cursor.encode()]
    target = urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))
    return f'<{target}>; rel="{rel}"; results="true"; cursor="{params["cursor"][0]}"'
