"""django-allauth's headless API for the browser client (`/_allauth/browser/v1/`).

Its payloads are snake_case JSON from a plain `JsonResponse` (no charset). Every answer
re-sends the `csrftoken` cookie; logging in rotates it and sets `sessionid`. The login POST
goes through Django's CSRF middleware first, whose failure is an HTML page, not JSON.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from tests.harness.http_fake import Request, Response

from . import wire
from .auth import Session, Sessions, cookies, csrf_cookie, csrf_passes, new_cookie_value, session_cookie
from .state import State

PREFIX = "/_allauth/browser/v1"
CONFIG = {
    "account": {
        "login_methods": ["email"],
        "is_open_for_signup": False,  # see Allauth.config
        "email_verification_by_code_enabled": False,
        "login_by_code_enabled": False,
        "password_reset_by_code_enabled": False,
        "authentication_method": "email",
    },
    "socialaccount": {"providers": []},
    "mfa": {"supported_types": ["totp", "webauthn", "recovery_codes"], "passkey_login_enabled": True},
}
WRONG_CREDENTIALS = {"message": "The email address and/or password you specified are not correct.",
                     "code": "email_password_mismatch", "param": "password"}


class Allauth:
    def __init__(self, state: State, sessions: Sessions, clock: Callable, registration_open: Callable[[], bool],
                 secure_cookies: Callable[[], bool]):
        self.state = state
        self.sessions = sessions
        self.clock = clock
        self.registration_open = registration_open
        self.secure_cookies = secure_cookies

    def routes(self):
        return [("GET", f"{PREFIX}/config", self.config),
                ("POST", f"{PREFIX}/auth/login", self.login),
                ("GET", f"{PREFIX}/auth/session", self.session)]

    def config(self, request: Request) -> Response:
        account = {**CONFIG["account"], "is_open_for_signup": self.registration_open()}
        return self._answer(request, 200, {"status": 200, "data": {**CONFIG, "account": account}})

    def login(self, request: Request) -> Response:
        if not csrf_passes(request):
            return wire.html(403, wire.CSRF_FAILURE_PAGE)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        missing = [{"message": "This field is required.", "code": "required", "param": name}
                   for name in ("email", "password") if not body.get(name)]
        if missing:
            return self._answer(request, 400, {"status": 400, "errors": missing})
        user = next((user for user in self.state.users
                     if user.email.lower() == str(body["email"]).lower() and user.password == body["password"]), None)
        if user is None:
            return self._answer(request, 400, {"status": 400, "errors": [WRONG_CREDENTIALS]})
        session = self.sessions.start(user, self.clock().timestamp())
        # Django rotates the CSRF token on login.
        return wire.plain_json(200, self._authenticated(session),
                               {"Set-Cookie": [csrf_cookie(new_cookie_value()),
                                                session_cookie(session.id, self.secure_cookies())]})

    def session(self, request: Request) -> Response:
        session = self.sessions.get(request)
        if session is None:
            return self._answer(request, 401, self._unauthenticated())
        return self._answer(request, 200, self._authenticated(session))

    @staticmethod
    def _authenticated(session: Session) -> dict:
        user = session.user
        return {
            "status": 200,
            "data": {
                "user": {"id": user.id, "display": user.email, "email": user.email, "has_usable_password": True},
                "methods": [{"method": "password", "at": session.logged_in_at, "email": user.email}],
            },
            "meta": {"is_authenticated": True},
        }

    @staticmethod
    def _unauthenticated() -> dict:
        return {"status": 401, "data": {"flows": [{"id": "login"}]}, "meta": {"is_authenticated": False}}

    @staticmethod
    def _answer(request: Request, status: int, body: dict) -> Response:
        """A JSON answer that (re-)sends the CSRF cookie, as Django does once a view used it."""
        token = cookies(request).get("csrftoken") or new_cookie_value()
        return wire.plain_json(status, body, {"Set-Cookie": csrf_cookie(token)})
