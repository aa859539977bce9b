"""How GlitchTip's stack puts answers on the wire: content types, dates, Django's canned pages.

GlitchTip mixes three kinds of responses: django-ninja endpoints (`application/json;
charset=utf-8`), plain Django `JsonResponse`s from allauth and the envelope view
(`application/json`, no charset), and Django's HTML pages for CSRF failures, 404s and 500s.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.harness.http_fake import Response

NINJA_JSON = "application/json; charset=utf-8"
PLAIN_JSON = "application/json"
HTML = "text/html; charset=utf-8"

# Django's default error page template (django.views.defaults.ERROR_PAGE_TEMPLATE).
_ERROR_PAGE = """
<!doctype html>
<html lang="en">
<head>
  <title>{title}</title>
</head>
<body>
  <h1>{title}</h1><p>{details}</p>
</body>
</html>
"""
SERVER_ERROR_PAGE = _ERROR_PAGE.format(title="Server Error (500)", details="")
NOT_FOUND_PAGE = _ERROR_PAGE.format(title="Not Found", details="The requested resource was not found on this server.")

# Django's CSRF failure page with DEBUG off (django.views.csrf.csrf_failure).
CSRF_FAILURE_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta http-equiv="content-type" content="text/html; charset=utf-8">
  <meta name="robots" content="NONE,NOARCHIVE">
  <title>403 Forbidden</title>
  <style>
    html * { padding:0; margin:0; }
    body * { padding:10px 20px; }
    body * * { padding:0; }
    body { font-family: sans-serif; background:#eee; color:#000; }
    body>div { border-bottom:1px solid #ddd; }
    h1 { font-weight:normal; margin-bottom:.4em; }
    h1 span { font-size:60%; color:#666; font-weight:normal; }
    #info { background:#f6f6f6; }
    #info ul { margin: 0.5em 4em; }
    #info p, #summary p { padding-top:10px; }
    #summary { background: #ffc; }
    #explanation { background:#eee; border-bottom: 0px none; }
  </style>
</head>
<body>
<div id="summary">
  <h1>Forbidden <span>(403)</span></h1>
  <p>CSRF verification failed. Request aborted.</p>


</div>

<div id="explanation">
  <p><small>More information is available with DEBUG=True.</small></p>
</div>

</body>
</html>
"""

# What nginx in front of a stopped GlitchTip answers (the double's `down` mode).
BAD_GATEWAY_PAGE = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


class Reply(Exception):
    """Raised by a handler to answer at once (404, 422, 403, a 500 page ...)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def ninja(status: int, body, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), {"Content-Type": NINJA_JSON, **(headers or {})})


def plain_json(status: int, body, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), {"Content-Type": PLAIN_JSON, **(headers or {})})


def html(status: int, page: str, headers: dict | None = None) -> Response:
    return Response(status, page.encode(), {"Content-Type": HTML, **(headers or {})})


def detail(status: int, message) -> Reply:
    """django-ninja's error shape: {"detail": ...}."""
    return Reply(ninja(status, {"detail": message}))


def not_found() -> Reply:
    return detail(404, "Not Found")


def server_error() -> Reply:
    """An unhandled exception (e.g. a unique constraint) with DEBUG off."""
    return Reply(html(500, SERVER_ERROR_PAGE))


def field_error(location: str, name: str, kind: str, message: str) -> dict:
    """One pydantic validation error, as django-ninja lists them in a 422."""
    return {"type": kind, "loc": [location, *(["payload"] if location == "body" else []), name], "msg": message}


def invalid(location: str, name: str, kind: str, message: str) -> Reply:
    """django-ninja's 422 for one invalid parameter (location: "query", "path" or "body")."""
    return detail(422, [field_error(location, name, kind, message)])


def timestamp(moment: datetime | None) -> str | None:
    """A datetime the way Django's JSON encoder writes it: milliseconds and a Z."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat()
    if moment.microsecond:
        text = text[:23] + text[26:]
    return text.removesuffix("+00:00") + "Z"


def jsonb(value):
    """`value` with dict keys in PostgreSQL jsonb order (shorter keys first, then bytewise).

    Event data, tags and contexts come back from jsonb columns, so their keys (and so the
    order of the event's tag list) follow this order, not the order the SDK sent.
    """
    if isinstance(value, dict):
        return {key: jsonb(value[key]) for key in sorted(value, key=lambda k: (len(k.encode()), k.encode()))}
    if isinstance(value, list):
        return [jsonb(item) for item in value]
    return value


def without_nulls(value):
    """Drop None members recursively (pydantic's exclude_none on stored event data)."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value
