"""Request middleware that is about the deployment, not about forecasts."""

import sentry_sdk
from django.conf import settings
from django.utils.cache import patch_cache_control


class ForwardedForMiddleware:
    """Use the client address that nginx saw, when the app sits behind it.

    nginx appends the address of its peer to X-Forwarded-For, so the last entry is the one
    a client cannot forge (anything before it came from the client). Enabled by
    DJANGO_USE_X_FORWARDED_FOR, which the compose stack sets because only nginx can reach the app.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.USE_X_FORWARDED_FOR:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                request.META["REMOTE_ADDR"] = last
        return self.get_response(request)


def client_ip(request) -> str | None:
    """The client address for login throttling: REMOTE_ADDR, already corrected by ForwardedForMiddleware."""
    return request.META.get("REMOTE_ADDR")


class SentryUserMiddleware:
    """Attach the signed-in user (id and username, never the e-mail) to every event of a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            sentry_sdk.set_user({"id": str(user.pk), "username": user.get_username()})
        return self.get_response(request)


class PrivatePagesMiddleware:
    """`Cache-Control: private, no-store` on every response to a signed-in user.

    Their pages, the CSV and the data export hold health data: no shared proxy may keep them,
    and the browser may not keep them on disk or show them again from its history after log-out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
