"""GlitchTipDouble: the routes (`/_health/`, `/api/settings/`, allauth's login, the SDKs' envelope and the
`/api/0/` endpoints of api.py), what tests seed and inspect, and the knobs.

    double = GlitchTipDouble(clock=ManualClock()).start()
    user = double.create_user("admin@example.com", "secret", superuser=True)
    token = double.create_token(user)          # or log in through allauth and POST /api/0/api-tokens/
    ...                                        # the code under test talks to double.url
    double.clock.advance(2.5)                  # past the ingestion delay: what was sent is stored
    double.accept_invitation(membership, user) # what an invited person does with GlitchTip's e-mail
    double.state.alert_recipients(project)     # whom an e-mail alert of the project would reach
    assert double.state.issues ...             # (reading `state` runs the pending processing)
    double.stop()

Knobs: `clock` (a callable returning an aware datetime; see clock.ManualClock), `ingest_delay` (seconds
until an accepted event is readable, 2 s as recorded), `domain` (the public URL in DSNs and heartbeat
URLs; default: the double's own), `user_registration_open` (as recorded: closed, so only existing users
may be invited), `down` (every answer is nginx's 502 page, as with GlitchTip's container stopped), and
`drop_events_matching` (accept an event, never store it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial

from tests.harness.http_fake import FakeHTTPServer, Request, Response

from . import wire
from .api import ENDPOINTS, Api
from .auth import SCOPES, Auth, issue_token
from .clock import utc_now
from .ingest import Ingestion
from .state import Membership, State, User


class GlitchTipDouble(FakeHTTPServer):
    name = "glitchtip"

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        ingest_delay: float = 2.0,
        user_registration_open: bool = False,
        secure_cookies: bool = False,
    ):
        super().__init__()
        # Tests start a double each: stop within 50 ms instead of serve_forever's default 0.5 s.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self.domain = self.url
        self.clock = clock
        self.down = False
        self.user_registration_open = user_registration_open
        # SESSION_COOKIE_SECURE, as GLITCHTIP_SECURE_COOKIES sets it outside development.
        self.secure_cookies = secure_cookies
        self._state = State()
        auth = Auth(self._state, clock, lambda: self.user_registration_open, lambda: self.secure_cookies)
        self.ingestion = Ingestion(self._state, clock, ingest_delay)
        self.api = Api(self._state, auth, clock, lambda: self.domain)
        self._serving = threading.RLock()
        # (method, path pattern, handler)
        self.routes: list[tuple[str, re.Pattern, Callable[..., Response]]] = [
            ("GET", re.compile(r"/_health/"), lambda request: Response(200, b"ok", {"Content-Type": "text/plain"})),
            ("GET", re.compile(r"/api/settings/"), self._settings),
            *((method, re.compile(re.escape(path)), handler) for method, path, handler in auth.routes()),
            ("POST", re.compile(r"/api/(?P<project_id>[0-9]+)/envelope/"), self.ingestion.envelope),
            *((endpoint.method, endpoint.pattern, partial(self.api.handle, endpoint)) for endpoint in ENDPOINTS),
        ]

    # ---- seeding and inspecting, for tests ------------------------------------------
    @property
    def state(self) -> State:
        """Everything stored, with every item whose ingestion delay has passed processed."""
        with self._serving:
            self.ingestion.process_due()
        return self._state

    def create_user(self, email: str, password: str, *, superuser: bool = False) -> User:
        """A user as `manage.py createsuperuser` (or the admin) would make one."""
        with self._serving:
            user = User(self._state.next_id("user"), email, password, superuser, joined=self.clock())
            self._state.users.append(user)
            return user

    def create_token(self, user: User, scopes=SCOPES, label: str = "") -> str:
        """An API token for `user`, skipping the session login a client would need."""
        with self._serving:
            return issue_token(self._state, user, label, scopes, self.clock()).token

    def accept_invitation(self, membership: Membership, user: User) -> None:
        """What the invited person does with the link in GlitchTip's e-mail (no script does it)."""
        with self._serving:
            membership.user = user

    def drop_events_matching(self, predicate: Callable[[dict], bool]) -> None:
        """Accept (200) but never store ingested events/transactions whose payload matches."""
        with self._serving:
            self.ingestion.drop_rules.append(predicate)

    # ---- serving ------------------------------------------------------------------------
    def route(self, request: Request) -> Response:
        if self.down:
            return wire.html(502, wire.BAD_GATEWAY_PAGE)
        with self._serving:
            self.ingestion.process_due()
            try:
                return self._dispatch(request)
            except wire.Reply as reply:
                return reply.response

    def _dispatch(self, request: Request) -> Response:
        matches = [
            (method, handler, match)
            for method, pattern, handler in self.routes
            if (match := pattern.fullmatch(request.path))
        ]
        if not matches:
            return wire.html(404, wire.NOT_FOUND_PAGE)
        for method, handler, match in matches:
            if method == request.method:
                return handler(request, **match.groupdict())
        allowed = ", ".join(dict.fromkeys(method for method, _, _ in matches))
        return wire.html(405, "Method not allowed", {"Allow": allowed})

    def _settings(self, request: Request) -> Response:
        """The public instance settings the web UI (and the bootstrap) read before logging in."""
        registration = self.user_registration_open
        unset = "stripePublicKey plausibleUrl plausibleDomain chatwootWebsiteToken sentryDSN sentryTracesSampleRate"
        settings = {
            **dict.fromkeys([*unset.split(), "environment", "glitchtipInstanceName"]),
            **dict.fromkeys(["billingEnabled", "iPaidForGlitchTip"], False),
            "socialApps": [],
            "enableOrganizationCreation": True,
            "enableUserRegistration": registration,
            "enableSocialAppsUserRegistration": registration,
            "version": "0.0.0-unknown",
            "serverTimeZone": "UTC",
        }
        return wire.ninja(200, settings)
