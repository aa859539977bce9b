"""Request middleware that is about the deployment, not about forecasts."""

import sentry_sdk
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.db import DatabaseError
from django.utils.cache import patch_cache_control
from django.utils.functional import SimpleLazyObject


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


class OneTryAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's, except that a user the database could not load is not tried again in the request.

    Each try at a database whose node is gone costs libpq's connect_timeout (2 s). The lazy user is in
    the failing frames' locals, and Sentry, recording them for the event, evaluated it three more
    times: a user's page then answered after 8 s instead of 2 s (the data-node drill of
    deploy/swarm/rehearse gave up at 5 s). The failure is kept and raised again at once instead.
    """

    def process_request(self, request):
        super().process_request(request)
        failure: DatabaseError | None = None

        def load():
            nonlocal failure
            if failure is not None:
                raise failure
            try:
                return auth.get_user(request)
            except DatabaseError as exc:
                failure = exc
                raise

        request.user = SimpleLazyObject(load)


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
