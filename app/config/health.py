"""Liveness and readiness probes for the container runtime, nginx and GlitchTip's uptime monitor.

A middleware placed first, so that probes answer before host validation, HTTPS redirects,
sessions or authentication: a probe addressed to "app:8000" or "nginx" must not be refused as
a DisallowedHost (which would also be logged as an error). Left out of tracing in config/sentry.py.
"""
import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"


def liveness() -> HttpResponse:
    """The process answers; touches nothing else, so a slow database never gets the app restarted."""
    return HttpResponse("ok", content_type="text/plain")


def readiness() -> JsonResponse:
    """Ready when the database and the cache both answer; 503, naming which one failed, when not."""
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
    return JsonResponse({"status": "ready" if ready else "not ready", **checks}, status=200 if ready else 503)


class HealthCheckMiddleware:
    PROBES = {LIVENESS_PATH: liveness, READINESS_PATH: readiness}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self.PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        response = probe()
        add_never_cache_headers(response)
        return response
