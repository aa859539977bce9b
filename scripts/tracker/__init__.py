"""The error tracker (GlitchTip) of an environment: provisioning and the smoke test, over glitchtip/'s client."""
