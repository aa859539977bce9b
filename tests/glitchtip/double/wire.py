"""How GlitchTip puts answers on the wire: django-ninja's JSON (`application/json; charset=utf-8`, datetimes
as Django's encoder writes them), plain Django `JsonResponse`s from allauth and the envelope view
(`application/json`, no charset), and Django's HTML pages for CSRF failures, 404s and 500s."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.template import Context, Engine
from django.views.csrf import builtin_template_path
from django.views.defaults import ERROR_PAGE_TEMPLATE

from tests.harness.http_fake import Response

NINJA_JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"

# Django's own pages, as GlitchTip (Django 5.2, DEBUG off) answers a 404, a 500 and a failed CSRF check.
SERVER_ERROR_PAGE = ERROR_PAGE_TEMPLATE % {"title": "Server Error (500)", "details": ""}
NOT_FOUND_PAGE = ERROR_PAGE_TEMPLATE % {
    "title": "Not Found",
    "details": "The requested resource was not found on this server.",
}
CSRF_FAILURE_PAGE = (
    Engine()
    .from_string(builtin_template_path("csrf_403.html").read_text())
    .render(
        Context(
            {
                "title": "Forbidden",
                "main": "CSRF verification failed. Request aborted.",
                "DEBUG": False,
                "more": "More information is available with DEBUG=True.",
            }
        )
    )
)

# What nginx in front of a stopped GlitchTip answers (the double's `down` mode).
BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class Reply(Exception):
    """Raised by a handler to answer at once (404, 422, 403, a 500 page ...)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def ninja(status: int, body, headers: dict | None = None) -> Response:
    """django-ninja's JSON, through Django's encoder as GlitchTip's: datetimes with milliseconds and a Z."""
    return Response(
        status, json.dumps(body, cls=DjangoJSONEncoder).encode(), {"Content-Type": NINJA_JSON, **(headers or {})}
    )


def plain_json(status: int, body, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


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


def invalid(location: str, name: str, kind: str, message: str) -> Reply:
    """django-ninja's 422 for one invalid parameter."""
    return detail(422, [{"type": kind, "loc": [location, name], "msg": message}])
