"""GlitchTip in the bundle: its API client and the alerts the bundle keeps (imports nothing from scripts/;
scripts/tracker/ provisions and smoke-tests GlitchTip with it). Its compose services, nginx server block and
settings live beside this package; README.md states what the bundle relies on from the GlitchTip image."""
