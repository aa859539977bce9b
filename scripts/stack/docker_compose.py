"""Docker Compose for one environment, with its env-file layers in order (`scripts/compose`).

Usage: scripts/compose ENV <docker compose arguments>     e.g. scripts/compose production ps
       APP_ENV=production scripts/compose ps              (the same: APP_ENV is the default ENV)
`up` is refused when scripts/check-env finds the configuration unsafe, and a command that builds or
starts containers when env/ENV.release.env (the image and release scripts/up built) is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from scripts.settings.envfiles import ENVIRONMENTS, REPO, EnvError, environment, layers
from scripts.stack.engine import command, handover, resolved_config

USAGE = (
    "usage: scripts/compose ENV <docker compose arguments>   e.g. scripts/compose production ps\n"
    "       (ENV: development, staging, production; or set APP_ENV)"
)
# Compose commands that build or start containers: they need every layer, the release included,
# unless they name only services that do not run the app's image (`up -d postgres` on a new machine).
STARTING = {"up", "create", "start", "restart", "run", "build"}
APP_IMAGE = "migraine-forecast-app"
# Compose's global options that take a value (so that value is not the command).
_GLOBAL_WITH_VALUE = {
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--profile",
    "--env-file",
    "--ansi",
    "--progress",
    "--parallel",
    "--project-directory",
}


def subcommand(args: list[str]) -> str | None:
    """The compose command in `args` (`up` in `--dry-run up -d`), or None."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def named_services(command_name: str, args: list[str]) -> list[str]:
    """The services a command names after itself (`up -d postgres`: postgres); for `run`, the first
    word only (the rest is the command run in it). A value of an option counts as a name, which
    errs on the side of asking for the release."""
    words = [arg for arg in args[args.index(command_name) + 1 :] if not arg.startswith("-")]
    return words[:1] if command_name == "run" else words


def only_other_images(env: str, services: list[str], root: Path = REPO) -> bool:
    """Whether `services` are all services of the stack that do not run the app's image (whose tag
    and release the release layer names)."""
    defined = resolved_config(env, root).get("services", {})
    return bool(services) and all(
        name in defined and not str(defined[name].get("image", "")).startswith(APP_IMAGE + ":") for name in services
    )


def main(argv: list[str]) -> int:
    args = argv[1:]
    if args[:1] in (["-h"], ["--help"]):
        print(f"{USAGE}\n{__doc__.split(chr(10), 1)[1].strip()}\nAfter ENV, --help shows docker compose's own help.")
        return 0
    named = args.pop(0) if args and args[0] in ENVIRONMENTS else os.environ.get("APP_ENV")
    if not named:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        env = environment(named)
    except EnvError as exc:
        print(f"compose: {exc}", file=sys.stderr)
        return 2
    command_name = subcommand(args)
    missing = [
        layer
        for layer in layers(env)
        if not layer.path.exists() and (not layer.only_to_start or command_name in STARTING)
    ]
    if missing and missing[0].only_to_start and command_name is not None:
        if only_other_images(env, named_services(command_name, args)):
            missing = missing[1:]
    if missing:
        fix = f"run {missing[0].created_by} (or scripts/up {env})" if missing[0].created_by else "restore it from git"
        if missing[0].only_to_start:
            fix = (
                f"run scripts/up {env}: it builds the app image, writes its name and release there and records "
                "the release in GlitchTip, so that every command starts that image"
            )
        print(f"compose: {missing[0].relative()} is missing; {fix}", file=sys.stderr)
        return 2
    if command_name == "up":
        # Imported only here: it loads the GlitchTip client and requests, which no other command needs.
        from scripts.stack import check_env

        if check_env.main(["check-env", env]) != 0:
            return 1
    try:
        compose = command(env, *args)
    except EnvError as exc:
        print(f"compose: {exc}", file=sys.stderr)
        return 2
    handover(compose)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
