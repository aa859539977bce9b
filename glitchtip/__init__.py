"""GlitchTip in the bundle: its API client, provisioning (python -m glitchtip.bootstrap) and smoke
test (python -m glitchtip.smoke_test). Its compose services, nginx server block and settings live
beside this package; README.md states what the bundle relies on from the GlitchTip image."""
