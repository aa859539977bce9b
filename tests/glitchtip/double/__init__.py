"""A GlitchTip test double: a real HTTP server on loopback that answers as the recorded GlitchTip did, for
the endpoints some product code calls (adding one: see api.py).

Reading order: server.py, api.py with schemas.py (request bodies), an event's way in (ingest.py, events.py),
what goes out (serializers.py, pagination.py, wire.py), who is calling (auth.py), what is stored (state.py);
the replay of the recording (test_contract.py, replay.py).
"""

from .clock import ManualClock
from .server import GlitchTipDouble

__all__ = ["GlitchTipDouble", "ManualClock"]
