"""The Python behind the operations commands at the top of scripts/, a package per capability:
settings/ (env-file layers, secrets, release), stack/ (Compose), swarm/, backups/, tracker/ (GlitchTip);
_steps.py: the numbered steps they share."""
