"""The Python behind the operations scripts (scripts/secrets, scripts/check-env, scripts/compose)
and what they share with glitchtip/: the env-file layers, running docker compose, numbered steps."""
