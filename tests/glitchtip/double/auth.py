"""Who is calling: API tokens with scopes, and Django sessions with CSRF, opened by allauth's login.

`/api/0/` tries `Authorization: Bearer` first and the session second (django-ninja's auth=[TokenAuth(),
SessionAuth()]). The session check runs Django's CSRF check on unsafe methods *before* looking at the session:
an unknown token on a POST gets 403 "CSRF check Failed", not 401.

allauth's headless API (`/_allauth/browser/v1/`) answers snake_case JSON from a plain `JsonResponse` (no
charset) and re-sends the `csrftoken` cookie each time; logging in rotates it and sets `sessionid`. The login
POST passes Django's CSRF middleware first, whose failure is an HTML page.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from http.cookies import SimpleCookie

from tests.harness.http_fake import Request, Response

from . import wire
from .state import APIToken, State, User

# The API token's scopes bit field (apps/api_tokens/models.py): responses list them in this order.
SCOPES = tuple(
    "project:read project:write project:admin project:releases team:read team:write team:admin event:read event:write"
    " event:admin org:read org:write org:admin member:read member:write member:admin".split()
)
ALLAUTH = "/_allauth/browser/v1"


def issue_token(state: State, user: User, label: str, scopes, created: datetime) -> APIToken:
    """A new API token (40 hex digits, as recorded), its scopes in the bit field's order."""
    in_order = [scope for scope in SCOPES if scope in scopes]
    token = APIToken(state.next_id("token"), user, label, in_order, secrets.token_hex(20), created)
    state.tokens.append(token)
    return token


def cookies(request: Request) -> dict[str, str]:
    return {name: morsel.value for name, morsel in SimpleCookie(request.headers.get("cookie", "")).items()}


def new_cookie_value() -> str:
    return secrets.token_hex(16)


def csrf_cookie(value: str) -> str:
    return f"csrftoken={value}; Max-Age=31449600; Path=/; SameSite=Lax"


def csrf_passes(request: Request) -> bool:
    """Django's double-submit check: on unsafe methods the X-CSRFToken header must match the cookie."""
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return True
    cookie = cookies(request).get("csrftoken")
    return bool(cookie) and request.headers.get("x-csrftoken") == cookie


class Auth:
    def __init__(
        self,
        state: State,
        clock: Callable[[], datetime],
        registration_open: Callable[[], bool],
        secure_cookies: Callable[[], bool],
    ):
        self.state = state
        self.clock = clock
        self.registration_open = registration_open
        self.secure_cookies = secure_cookies  # SESSION_COOKIE_SECURE (GLITCHTIP_SECURE_COOKIES)
        self.sessions: dict[str, User] = {}  # Django's session store: the user behind each `sessionid`

    def authenticate(self, request: Request, *, session_only: bool = False) -> tuple[User, APIToken | None]:
        """The caller of an `/api/0/` endpoint and their token (None: a session), or GlitchTip's 401/403."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if not session_only and scheme.lower() == "bearer":
            token = next((token for token in self.state.tokens if token.token == credential.strip()), None)
            if token:
                return token.user, token
        if not csrf_passes(request):
            raise wire.detail(403, "CSRF check Failed")
        user = self.sessions.get(cookies(request).get("sessionid", ""))
        if user is None:
            raise wire.detail(401, "Unauthorized")
        return user, None

    # ---- allauth ----------------------------------------------------------------------------
    def routes(self):
        return [("GET", f"{ALLAUTH}/config", self.config), ("POST", f"{ALLAUTH}/auth/login", self.login)]

    def config(self, request: Request) -> Response:
        account = {
            "login_methods": ["email"],
            "is_open_for_signup": self.registration_open(),
            "email_verification_by_code_enabled": False,
            "login_by_code_enabled": False,
            "password_reset_by_code_enabled": False,
            "authentication_method": "email",
        }
        mfa = {"supported_types": ["totp", "webauthn", "recovery_codes"], "passkey_login_enabled": True}
        data = {"account": account, "socialaccount": {"providers": []}, "mfa": mfa}
        return self._answer(request, 200, {"status": 200, "data": data})

    def login(self, request: Request) -> Response:
        if not csrf_passes(request):
            return wire.html(403, wire.CSRF_FAILURE_PAGE)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        required = {"message": "This field is required.", "code": "required"}
        missing = [{**required, "param": name} for name in ("email", "password") if not body.get(name)]
        user = None if missing else self.state.user(str(body["email"]))
        if user is None or user.password != body["password"]:
            mismatch = {
                "message": "The email address and/or password you specified are not correct.",
                "code": "email_password_mismatch",
                "param": "password",
            }
            return self._answer(request, 400, {"status": 400, "errors": missing or [mismatch]})
        session_id = new_cookie_value()
        self.sessions[session_id] = user
        session = {
            "user": {"id": user.id, "display": user.email, "email": user.email, "has_usable_password": True},
            "methods": [{"method": "password", "at": self.clock().timestamp(), "email": user.email}],
        }
        secure = "; Secure" if self.secure_cookies() else ""
        session_cookie = f"sessionid={session_id}; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax{secure}"
        body = {"status": 200, "data": session, "meta": {"is_authenticated": True}}
        # Django rotates the CSRF token on login.
        return wire.plain_json(200, body, {"Set-Cookie": [csrf_cookie(new_cookie_value()), session_cookie]})

    @staticmethod
    def _answer(request: Request, status: int, body: dict) -> Response:
        """A JSON answer that (re-)sends the CSRF cookie, as Django does once a view used it."""
        token = cookies(request).get("csrftoken") or new_cookie_value()
        return wire.plain_json(status, body, {"Set-Cookie": csrf_cookie(token)})
