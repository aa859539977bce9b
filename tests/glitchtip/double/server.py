"""GlitchTipDouble: a GlitchTip backend on loopback that answers as the recorded one did.

The recording (tests/glitchtip/contract/) is the specification; double/test_contract.py
replays it against this double. What it serves:

- `/_health/`, `/api/settings/`, allauth's headless browser API (`/_allauth/browser/v1/...`),
- the ingest endpoints `/api/<project id>/envelope/` and `/store/`,
- the `/api/0/` endpoints listed in api.py.

Typical use in a test:

    double = GlitchTipDouble(clock=ManualClock()).start()
    user = double.create_user("admin@example.com", "secret", superuser=True)
    token = double.create_token(user)          # or log in through allauth and POST /api/0/api-tokens/
    ...                                        # the code under test talks to double.url
    double.clock.advance(2.5)                  # past the ingestion delay: what was sent is stored
    double.accept_invitation(membership, user) # what an invited person does with GlitchTip's e-mail
    double.state.alert_recipients(project)     # whom an e-mail alert of the project would reach
    assert double.state.issues ...             # (reading `state` runs the pending processing)
    double.stop()

Knobs: `clock` (a callable returning an aware datetime; see clock.ManualClock),
`ingest_delay` (seconds until an accepted event is readable, default 2 s as recorded),
`block_seconds` (how long a wrong DSN key blocks its project id, default 30 s), `domain` (the
configured public URL used in DSNs, heartbeat endpoints and permalinks; default: the double's
own URL), `user_registration_open` (as recorded: closed; while closed only existing users may be
invited into an organization), `down` (answer every request with
nginx's 502 Bad Gateway page, as a stack whose GlitchTip container is stopped would), and
`drop_events_matching` (accept an event, never store it).

What it leaves out: everything the recording does not show and no script calls (issue search
beyond `is:`/`level:`/words, events of other platforms, the web UI's endpoints...).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tests.harness.http_fake import FakeHTTPServer, Request, Response

from . import serializers, wire
from .allauth import Allauth
from .api import ENDPOINTS, Api, Endpoint
from .auth import SCOPES, Sessions, issue_token
from .clock import utc_now
from .ingest import Ingestion
from .processing import Worker
from .state import Project, State, User


@dataclass
class Route:
    method: str | None  # None: the handler takes any method
    pattern: re.Pattern
    handler: Callable[..., Response]


class GlitchTipDouble(FakeHTTPServer):
    name = "glitchtip"

    def __init__(self, *, domain: str | None = None, clock: Callable[[], datetime] = utc_now,
                 ingest_delay: float = 2.0, block_seconds: float = 30.0, user_registration_open: bool = False,
                 secure_cookies: bool = False):
        super().__init__()
        # Tests start a double each: stop within 50 ms instead of serve_forever's default 0.5 s.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=self.name, daemon=True)
        self.domain = domain or self.url
        self.clock = clock
        self.down = False
        self.user_registration_open = user_registration_open
        # SESSION_COOKIE_SECURE, as GLITCHTIP_SECURE_COOKIES sets it outside development.
        self.secure_cookies = secure_cookies
        self._state = State()
        self.sessions = Sessions()
        self.ingestion = Ingestion(self._state, clock, ingest_delay, block_seconds)
        self.worker = Worker(self._state)
        self.api = Api(self._state, self.sessions, clock, lambda: self.domain, self.registration_open)
        self._serving = threading.RLock()
        allauth = Allauth(self._state, self.sessions, clock, self.registration_open, lambda: self.secure_cookies)
        self.routes = [
            Route("GET", re.compile(r"/_health/"), self._health),
            Route("GET", re.compile(r"/api/settings/"), self._settings),
            *(Route(method, re.compile(re.escape(path)), handler) for method, path, handler in allauth.routes()),
            # The envelope view is plain Django and answers other methods itself.
            Route(None, re.compile(r"/api/(?P<project_id>[0-9]+)/envelope/"), self.ingestion.envelope),
            Route("POST", re.compile(r"/api/(?P<project_id>[0-9]+)/store/"), self.ingestion.store),
            *(Route(endpoint.method, endpoint.pattern, self._api_handler(endpoint)) for endpoint in ENDPOINTS),
        ]

    # ---- seeding and inspecting, for tests ------------------------------------------
    @property
    def state(self) -> State:
        """Everything stored, with every item whose ingestion delay has passed processed."""
        self.process_pending()
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

    def accept_invitation(self, membership, user: User) -> None:
        """What the invited person does with the link in GlitchTip's e-mail (POST accept/<id>/<token>/)."""
        with self._serving:
            self.api.accept(membership, user)

    def dsn(self, project: Project) -> str:
        """The project's first DSN, as its keys endpoint shows it."""
        return serializers.project_key(self._state.keys_of(project)[0], self.domain)["dsn"]["public"]

    def registration_open(self) -> bool:
        """GlitchTip lets the first user sign up even when registration is closed."""
        return self.user_registration_open or not self._state.users

    def drop_events_matching(self, predicate: Callable[[dict], bool]) -> None:
        """Accept (200) but never store ingested events/transactions whose payload matches."""
        with self._serving:
            self.ingestion.drop_rules.append(predicate)

    def process_pending(self) -> None:
        """Store every accepted item whose ingestion delay has passed (before each request and on `state`)."""
        with self._serving:
            for item in self.ingestion.take_due():
                self.worker.process(item)

    # ---- serving ------------------------------------------------------------------------
    def route(self, request: Request) -> Response:
        if self.down:
            return wire.html(502, wire.BAD_GATEWAY_PAGE)
        with self._serving:
            self.process_pending()
            try:
                return self._dispatch(request)
            except wire.Reply as reply:
                return reply.response

    def _dispatch(self, request: Request) -> Response:
        matches = self._matches(request.path)
        if not matches:
            return wire.html(404, wire.NOT_FOUND_PAGE)
        for route, match in matches:
            if route.method in (None, request.method):
                return route.handler(request, **match.groupdict())
        allowed = ", ".join(dict.fromkeys(route.method for route, _ in matches))
        return wire.html(405, "Method not allowed", {"Allow": allowed})

    def _matches(self, path: str) -> list[tuple[Route, re.Match]]:
        return [(route, match) for route in self.routes if (match := route.pattern.fullmatch(path))]

    def _api_handler(self, endpoint: Endpoint) -> Callable[..., Response]:
        return lambda request, **params: self.api.handle(endpoint, request, params)

    @staticmethod
    def _health(request: Request) -> Response:
        return Response(200, b"ok", {"Content-Type": "text/plain"})

    def _settings(self, request: Request) -> Response:
        """The public instance settings the web UI (and scripts) read before logging in."""
        return wire.ninja(200, {
            "socialApps": [], "billingEnabled": False, "iPaidForGlitchTip": False,
            "enableUserRegistration": self.registration_open(),
            "enableSocialAppsUserRegistration": self.registration_open(),
            "enableOrganizationCreation": True, "stripePublicKey": None,
            "plausibleUrl": None, "plausibleDomain": None, "chatwootWebsiteToken": None, "sentryDSN": None,
            "sentryTracesSampleRate": None, "environment": None, "version": "0.0.0-unknown",
            "serverTimeZone": "UTC", "glitchtipInstanceName": None,
        })
