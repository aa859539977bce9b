"""Settings whose value can come from a file: NAME or NAME_FILE, as Docker and Kubernetes secrets provide them.

The official images do the same (postgres' POSTGRES_PASSWORD_FILE, GlitchTip's django-environ
FileAwareEnv): a secret mounted at /run/secrets/<name> never appears in the service's
environment, in `docker inspect` or in the orchestrator's API. scripts/swarm-deploy sets
DJANGO_SECRET_KEY_FILE, DATABASE_URL_FILE, EMAIL_URL_FILE, LLM_API_KEY_FILE, SENTRY_DSN_FILE and
HEARTBEAT_URLS_FILE this way; any other setting may be given the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from environs import FileAwareEnv


class SecretFileEnv(FileAwareEnv):
    """environs' FileAwareEnv (https://github.com/sloria/environs#reading-from-files), stricter:

    - NAME and NAME_FILE both set is an error, not a silent preference for the file;
    - a NAME_FILE that cannot be read is an error naming NAME_FILE and the path;
    - trailing line breaks are dropped (`echo secret > file` leaves one), nothing else.

    Errors are collected like every other invalid variable and reported together at seal().
    """

    def _get_value(self, env_key: str, default: Any) -> Any:
        file_key = f"{env_key}{self.file_suffix}"
        path = os.environ.get(file_key) or self._environ.get(file_key)
        if not path:
            return super(FileAwareEnv, self)._get_value(env_key, default)
        if os.environ.get(env_key) or self._environ.get(env_key):
            return self._invalid(file_key, f"Set {env_key} or {file_key}, not both.", default)
        try:
            return Path(path).read_text().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            return self._invalid(file_key, f"Cannot read {path}: {reason}.", default)

    def _invalid(self, key: str, message: str, default: Any) -> Any:
        # Settings may read a variable twice (config/sentry.py reads the secrets again to scrub them).
        if message not in self._errors[key]:
            self._errors[key].append(message)
        return default
