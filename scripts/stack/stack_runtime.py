"""Where an environment's stack runs, and how to run a command inside one of its services.

The same bundle runs under Docker Compose (scripts/compose) or as a Docker Swarm stack
(scripts/swarm-deploy), both named COMPOSE_PROJECT_NAME. The scripts that need a process
inside the stack (the bootstrap's createsuperuser in glitchtip-web, the smoke test's
sentry_check in app) ask here instead of assuming Compose:

    scripts/exec ENV SERVICE COMMAND...     e.g. scripts/exec production app python manage.py compare_forecasts

Compose: `docker compose exec -T`. Swarm: `docker exec` into a running (healthy first) task of
the service on this node; Swarm offers no exec into a task on another node, so the error says
which nodes run one.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts.settings import envfiles
from scripts.stack import engine
from scripts.stack.engine import docker

SWARM, COMPOSE = "swarm", "compose"


def stack_name(env: str, root: Path = envfiles.REPO) -> str:
    return envfiles.read_environment(env, root).get("COMPOSE_PROJECT_NAME") or "migraine-forecast"


def runtime(env: str, root: Path = envfiles.REPO) -> str:
    """Swarm when the engine is a swarm manager running services of the stack, else Compose."""
    if not shutil.which("docker"):
        return COMPOSE
    listed = docker("service", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={stack_name(env, root)}")
    # On an engine that is not a swarm manager this fails ("This node is not a swarm manager"): Compose.
    return SWARM if listed.returncode == 0 and listed.stdout.strip() else COMPOSE


def exec_command(
    env: str, service: str, command: Sequence[str], pass_env: Sequence[str] = (), root: Path = envfiles.REPO
) -> list[str]:
    """The command line that runs `command` in `service`, with the variables named in `pass_env`
    passed from this process's environment (values never on the command line)."""
    variables = [option for name in pass_env for option in ("-e", name)]
    if runtime(env, root) == COMPOSE:
        return engine.command(env, "exec", "-T", *variables, service, *command, root=root)
    return ["docker", "exec", "-i", *variables, swarm_container(stack_name(env, root), service), *command]


def swarm_container(stack: str, service: str) -> str:
    """A running container of the service's tasks on this node, a healthy one if there is one."""
    full_name = f"{stack}_{service}"
    task = ["--filter", f"label=com.docker.swarm.service.name={full_name}", "--filter", "status=running"]
    for health in (["--filter", "health=healthy"], []):
        found = docker("ps", "--quiet", *task, *health).stdout.split()
        if found:
            return found[0]
    tasks = docker("service", "ps", full_name, "--filter", "desired-state=running", "--format", "{{json .}}")
    nodes = {json.loads(line)["Node"] for line in tasks.stdout.splitlines() if line.strip()}
    where = ", ".join(sorted(nodes)) or "no node (is the service running?)"
    raise envfiles.EnvError(
        f"no running task of {full_name} on this node (running on: {where}); run this on one "
        "of those nodes, or point DOCKER_HOST at one"
    )


USAGE = (
    "usage: scripts/exec ENV SERVICE COMMAND...   (ENV: development, staging, production)\n"
    "Runs COMMAND in a running container of SERVICE, under Compose or Swarm alike,\n"
    "e.g. scripts/exec production app python manage.py compare_forecasts --dry-run"
)


def main(argv: list[str]) -> int:
    if argv[1:2] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(argv) < 4 or argv[1] not in envfiles.ENVIRONMENTS:
        print(USAGE, file=sys.stderr)
        return 2
    env, service, command = argv[1], argv[2], argv[3:]
    try:
        line = exec_command(env, service, command)
    except envfiles.EnvError as exc:
        print(f"exec: {exc}", file=sys.stderr)
        return 2
    engine.handover(line)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
