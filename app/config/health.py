"""Liveness and readiness probes for the container runtime, nginx and GlitchTip's uptime monitor.

Both answer before host validation, HTTPS redirects, sessions or authentication: a probe
addressed to "app:8000" or "nginx" must not be refused as a DisallowedHost (which would also be
logged as an error). /healthz is a plain WSGI app that config/wsgi.py serves in front of Django
(and of Sentry's wrapping of it); /readyz needs Django's database and cache, so it is a
middleware placed first. Left out of tracing in config/sentry.py.

/readyz is reachable through nginx by anyone, so it answers with its status only; which
dependency failed, and how, goes to the log, and into the answer only for a request from the
internal network: the host or a container network, not passed on by nginx (see `internal`).
The container runtime, Kubernetes and an operator inside the container get the details.
"""

import ipaddress
import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"


NEVER_CACHE = ("Cache-Control", "max-age=0, no-cache, no-store, must-revalidate, private")
# Loopback and the private ranges Docker, Kubernetes and local networks use.
INTERNAL_NETWORKS = [
    ipaddress.ip_network(network)
    for network in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]


def liveness(environ, start_response):
    """The process answers; touches nothing else, so a slow database never gets the app restarted."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
        return []
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2"), NEVER_CACHE])
    return [b"ok"] if environ["REQUEST_METHOD"] == "GET" else []


def internal(request) -> bool:
    """From the internal network, and not passed on by nginx, which adds X-Forwarded-For to every request.
    REMOTE_ADDR is the socket's peer here: this middleware runs before ForwardedForMiddleware."""
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in INTERNAL_NETWORKS)


def readiness(detailed: bool) -> JsonResponse:
    """Ready when the database and the cache both answer; 503 when not, naming which one failed if `detailed`."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        logger.warning("readyz: database not reachable: %s", exc)
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache.set("readyz", "1", timeout=5)
        checks["cache"] = "ok" if cache.get("readyz") == "1" else "error: value not stored"
    except Exception as exc:
        logger.warning("readyz: cache not reachable: %s", exc)
        checks["cache"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", **(checks if detailed else {})}
    return JsonResponse(body, status=200 if ready else 503)


class ReadinessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != READINESS_PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        response = readiness(detailed=internal(request))
        add_never_cache_headers(response)
        return response
