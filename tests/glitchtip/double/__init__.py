"""A GlitchTip test double: a real HTTP server on loopback that answers as the recorded GlitchTip did,
for the endpoints the bundle calls.

Reading order: server.py (routes and knobs), api.py (the /api/0/ endpoints) with schemas.py (their
request bodies), an event's way in (ingest.py, events.py), what goes out (serializers.py,
pagination.py, wire.py), who is calling (auth.py: tokens, sessions, allauth's login), what is stored
(state.py); its tests replay the recording (test_contract.py, replay.py). It models only what some
product code calls: adding an endpoint, see api.py.
"""

from .clock import ManualClock
from .server import GlitchTipDouble

__all__ = ["GlitchTipDouble", "ManualClock"]
