"""A faithful GlitchTip test double: a real HTTP server on loopback (see server.py)."""
from .clock import ManualClock
from .server import GlitchTipDouble

__all__ = ["GlitchTipDouble", "ManualClock"]
