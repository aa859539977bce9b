"""Request middleware that is about the deployment, not about forecasts."""
import sentry_sdk
from django.conf import settings


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


class SentryUserMiddleware:
    """Attach the signed-in user (id and username, never the e-mail) to every event of a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            sentry_sdk.set_user({"id": str(user.pk), "username": user.get_username()})
        return self.get_response(request)
