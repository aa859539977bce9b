"""A GlitchTip test double: a real HTTP server on loopback that answers as the recorded GlitchTip did.

Reading order: server.py (routes and knobs), api.py (the /api/0/ endpoints), an event's way in
(ingest.py, processing.py, interpret.py), what goes out (serializers.py, pagination.py,
wire.py), who is calling (auth.py, allauth.py), and what is stored (state.py).
Adding an endpoint: a method in api.py, its objects in state.py and their JSON in
serializers.py, recorded exchanges in tests/glitchtip/contract/ to replay (the alerts, monitor
updates and members were added so: contract/alerts/, test_alerts_contract.py).
"""
from .clock import ManualClock
from .server import GlitchTipDouble

__all__ = ["GlitchTipDouble", "ManualClock"]
