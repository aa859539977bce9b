"""Who is calling: Django sessions with CSRF, API tokens with scopes.

`/api/0/` tries `Authorization: Bearer` first and the session second (django-ninja's
auth=[TokenAuth(), SessionAuth()]). The session check runs Django's CSRF check on unsafe
methods *before* looking at the session, which is why an unknown token on a POST gets
403 "CSRF check Failed" rather than 401.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from http.cookies import SimpleCookie

from tests.harness.http_fake import Request

from . import wire
from .state import APIToken, State, User

# The API token's scopes bit field (apps/api_tokens/models.py): responses list them in this order.
SCOPES = (
    "project:read", "project:write", "project:admin", "project:releases",
    "team:read", "team:write", "team:admin",
    "event:read", "event:write", "event:admin",
    "org:read", "org:write", "org:admin",
    "member:read", "member:write", "member:admin",
)
# An organization owner's `access`: a Python set on the server, listed in the recorded order.
OWNER_ACCESS = [
    "member:write", "org:integrations", "project:read", "project:releases", "team:write", "org:read", "org:admin",
    "team:read", "member:admin", "member:read", "project:admin", "event:admin", "project:write", "event:read",
    "org:write", "event:write", "team:admin",
]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
_COOKIE_CHARS = string.ascii_letters + string.digits


@dataclass
class Caller:
    user: User
    token: APIToken | None  # None for a session

    def may(self, scopes: tuple[str, ...]) -> bool:
        """GlitchTip's has_permission: a token needs one of `scopes`; a session is not checked."""
        return self.token is None or any(scope in scopes for scope in self.token.scopes)


def issue_token(state: State, user: User, label: str, scopes, created) -> APIToken:
    """A new API token (40 hex digits, as recorded), its scopes in the bit field's order."""
    token = APIToken(state.next_id("token"), user, label, [scope for scope in SCOPES if scope in scopes],
                     secrets.token_hex(20), created)
    state.tokens.append(token)
    return token


def cookies(request: Request) -> dict[str, str]:
    jar = SimpleCookie()
    jar.load(request.headers.get("cookie", ""))
    return {name: morsel.value for name, morsel in jar.items()}


def new_cookie_value() -> str:
    return "".join(secrets.choice(_COOKIE_CHARS) for _ in range(32))


def csrf_cookie(value: str) -> str:
    return f"csrftoken={value}; Max-Age=31449600; Path=/; SameSite=Lax"


def session_cookie(value: str, secure: bool = False) -> str:
    """Django's session cookie; Secure with SESSION_COOKIE_SECURE (GLITCHTIP_SECURE_COOKIES)."""
    return f"sessionid={value}; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax{'; Secure' if secure else ''}"


def csrf_passes(request: Request) -> bool:
    """Django's double-submit check: the X-CSRFToken header must match the csrftoken cookie.

    (Django also accepts a masked 64-character header; clients that echo the cookie, as the
    recorder did, never send one.)
    """
    if request.method in SAFE_METHODS:
        return True
    cookie = cookies(request).get("csrftoken")
    return bool(cookie) and request.headers.get("x-csrftoken") == cookie


@dataclass
class Session:
    id: str
    user: User
    logged_in_at: float  # a Unix timestamp, as allauth reports it


class Sessions:
    """Django's session store, keyed by the `sessionid` cookie."""

    def __init__(self):
        self._sessions: dict[str, Session] = {}

    def start(self, user: User, at: float) -> Session:
        session = Session("".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32)), user, at)
        self._sessions[session.id] = session
        return session

    def get(self, request: Request) -> Session | None:
        return self._sessions.get(cookies(request).get("sessionid", ""))


def authenticate(request: Request, state: State, sessions: Sessions, *, session_only: bool = False) -> Caller:
    """The caller of an `/api/0/` endpoint, or a Reply with GlitchTip's 401/403."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if not session_only and scheme.lower() == "bearer":
        token = next((token for token in state.tokens if token.token == credential.strip()), None)
        if token:
            return Caller(token.user, token)
    if not csrf_passes(request):
        raise wire.detail(403, "CSRF check Failed")
    session = sessions.get(request)
    if session is None:
        raise wire.detail(401, "Unauthorized")
    return Caller(session.user, None)
