"""The Compose stack of an environment: the compose wrapper, the check before it starts, converging it, exec."""
