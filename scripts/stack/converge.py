"""Bring a stack to its configuration, touching only what differs (scripts/up, steps 4 and 7).

Usage: python3 -m scripts.stack.converge ENV [--timeout 600]

What differs is read from what Compose labels each container with, against what it would create
now: the configuration hash (`docker compose config --hash`) and the image's ID. A plain `up` does
more: it starts every exited one-shot again, so both migrations would run each time (Compose does
this by design, docker/compose#11590), and it stops a service's dependents before it recreates it.
So each call names its services with --no-deps, in this order:

1. the long-running services that the one-shots to run need, if they are not running as configured;
2. the one-shots (migrations) whose last successful container was not made from the current
   configuration and image, while the running containers go on serving;
3. the other long-running services that are missing, stopped, changed (recreated) or unhealthy;
4. the app, rolled: a second container of the new configuration beside the old one (--scale, as
   getsentry/self-hosted scales its web service), the old one stopped once the new one is healthy.
   Until its workers have loaded the app (gunicorn preload_app) it refuses connections, and nginx,
   which finds the app by name at each request, passes them to the old one.

Each step waits (`up --wait`, `docker wait`) with a timeout. Exit status: 0 converged, 1 a service
failed or a Docker call did not finish in time (its message says what to do), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scripts.settings import envfiles
from scripts.stack import engine
from scripts.stack.engine import Container

# Stateless web servers behind nginx: replaced by starting the new container before stopping the
# old. Not the scheduler: two of it would run each job twice.
ROLLING = ("app",)
CHANGED = "configuration or image changed"
# Beyond the health wait: pulling or building an image that is not here yet (the backup image).
BUILD_SECONDS = 900


class Failed(Exception):
    """A service that did not converge; the message says what to look at."""


@dataclass(frozen=True)
class Service:
    name: str
    one_shot: bool
    needs: tuple[str, ...]  # the services it depends on
    image: str


@dataclass
class Plan:
    reasons: dict[str, str] = field(default_factory=dict)  # every service acted on, and why
    needs: list[str] = field(default_factory=list)  # 1: long-running services the one-shots need
    one_shots: list[str] = field(default_factory=list)  # 2
    others: list[str] = field(default_factory=list)  # 3
    unhealthy: list[str] = field(default_factory=list)  # 3, recreated
    roll: list[str] = field(default_factory=list)  # 4
    leftovers: list[str] = field(default_factory=list)  # containers of an interrupted roll, removed

    @property
    def empty(self) -> bool:
        return not (self.reasons or self.leftovers)


def services_of(config: dict) -> dict[str, Service]:
    """The services of a resolved configuration; a one-shot is one another service waits to complete."""
    raw = config.get("services", {})
    one_shots = {
        name
        for service in raw.values()
        for name, dependency in (service.get("depends_on") or {}).items()
        if dependency.get("condition") == "service_completed_successfully"
    }
    return {
        name: Service(name, name in one_shots, tuple(sorted(service.get("depends_on") or {})), service.get("image", ""))
        for name, service in raw.items()
    }


def plan(
    services: dict[str, Service], containers: list[Container], hashes: dict[str, str], images: dict[str, str]
) -> Plan:
    """What to do so that every service runs its current configuration, and nothing more."""
    result = Plan()
    for name, service in services.items():
        mine = [c for c in containers if c.service == name]
        current = [c for c in mine if c.config_hash == hashes.get(name) and c.image == images.get(service.image)]
        if service.one_shot:
            if not any(c.state == "exited" and c.exit_code == 0 for c in current):
                result.one_shots.append(name)
                result.reasons[name] = (
                    f"last run {current[0].state}, exit {current[0].exit_code}"
                    if current
                    else CHANGED
                    if mine
                    else "never ran"
                )
            continue
        serving = [c for c in current if c.state == "running" and c.health != "unhealthy"]
        if serving:
            result.leftovers += [c.id for c in mine if c not in serving]
            continue
        reason = (
            "not created yet"
            if not mine
            else CHANGED
            if not current
            else "unhealthy"
            if any(c.state == "running" for c in current)
            else current[0].state
        )
        result.reasons[name] = reason
        # Rolled when a container of it serves now, even an outdated or unhealthy one.
        if name in ROLLING and any(c.state == "running" for c in mine):
            result.roll.append(name)
        else:
            (result.unhealthy if reason == "unhealthy" else result.others).append(name)
    needed = needed_by(services, result.one_shots)
    result.needs = [name for name in result.others if name in needed]
    result.others = [name for name in result.others if name not in needed]
    return result


def needed_by(services: dict[str, Service], names: list[str]) -> set[str]:
    """Every service `names` depend on, directly or not."""
    found: set[str] = set()
    pending = [need for name in names for need in services[name].needs]
    while pending:
        name = pending.pop()
        if name not in found and name in services:
            found.add(name)
            pending.extend(services[name].needs)
    return found


class Converge:
    def __init__(self, env: str, timeout: int, root: Path = envfiles.REPO):
        self.env = env
        self.timeout = timeout
        self.root = root
        self.fix = (
            f"see scripts/compose {env} ps and scripts/compose {env} logs SERVICE; on a slow host raise --timeout"
        )

    def read(self) -> Plan:
        config = engine.resolved_config(self.env, self.root)
        services = services_of(config)
        images = engine.image_ids(*sorted({service.image for service in services.values() if service.image}))
        return plan(
            services,
            engine.containers(self.env, root=self.root),
            engine.config_hashes(self.env, self.root, config),
            images,
        )

    def run(self) -> None:
        the_plan = self.read()
        if the_plan.empty:
            print("converge: every service runs its current configuration: nothing to do", flush=True)
            return
        for name, reason in the_plan.reasons.items():
            print(f"converge: {name}: {reason}", flush=True)
        self.up(the_plan.needs)
        self.run_once(the_plan.one_shots)
        self.up(the_plan.others)
        self.up(the_plan.unhealthy, "--force-recreate")
        for name in the_plan.roll:
            self.roll(name)
        self.remove(the_plan.leftovers, "of an interrupted roll")

    def up(self, names: list[str], *options: str) -> None:
        if names and self.compose(
            "up", "--detach", "--wait", "--wait-timeout", str(self.timeout), "--no-deps", *options, *names
        ):
            raise Failed(f"{', '.join(names)} did not become healthy; {self.fix}")

    def compose(self, *args: str) -> int:
        """A compose command whose progress the operator sees; its exit status."""
        return engine.compose(
            self.env, *args, timeout=self.timeout + BUILD_SECONDS, root=self.root, capture=False, fix=self.fix
        ).returncode

    def run_once(self, names: list[str]) -> None:
        """Run the one-shots to their end (nothing that runs is touched) and check that each exited 0."""
        if not names:
            return
        if self.compose("up", "--detach", "--no-deps", *names):
            raise Failed(f"{', '.join(names)} could not be started; {self.fix}")
        ran = engine.containers(self.env, *names, root=self.root)
        engine.docker("wait", *[c.id for c in ran], timeout=self.timeout, fix=self.fix)
        for container in engine.containers(self.env, *names, root=self.root):
            if container.state != "exited" or container.exit_code != 0:
                print(f"converge: {container.service} failed; its last lines:", file=sys.stderr, flush=True)
                self.compose("logs", "--no-log-prefix", "--tail", "30", container.service)
                raise Failed(f"{container.service} {container.state}, exit {container.exit_code}; {self.fix}")
            print(f"converge: {container.service} done", flush=True)

    def roll(self, name: str) -> None:
        """A new container beside the old one(s); once it is healthy, the old ones go."""
        old = [c.id for c in engine.containers(self.env, name, root=self.root)]
        status = self.compose(
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            str(self.timeout),
            "--no-deps",
            "--no-recreate",
            "--scale",
            f"{name}={len(old) + 1}",
            name,
        )
        new = [c.id for c in engine.containers(self.env, name, root=self.root) if c.id not in old]
        if status:
            if new:
                print(f"converge: the new {name} container did not become healthy; its last lines:", file=sys.stderr)
                engine.run(["docker", "logs", "--tail", "30", *new[:1]], timeout=engine.QUERY_TIMEOUT, capture=False)
            self.remove(new)
            raise Failed(f"{name} was not replaced (the old container goes on serving); {self.fix}")
        # The old container finishes its requests (gunicorn's graceful stop), then goes.
        self.remove(old)
        print(f"converge: {name} replaced, the new container healthy before the old one stopped", flush=True)

    def remove(self, ids: list[str], why: str = "") -> None:
        if not ids:
            return
        if why:
            print(f"converge: removing {len(ids)} container(s) {why}", flush=True)
        engine.docker("stop", *ids, timeout=engine.QUERY_TIMEOUT + 60, check=True, fix=self.fix)
        engine.docker("rm", *ids, check=True, fix=self.fix)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="converge", description=__doc__.split("\n")[0])
    parser.add_argument("env", nargs="?")
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for health (default 600)")
    args = parser.parse_args(argv[1:])
    try:
        Converge(envfiles.environment(args.env), args.timeout).run()
    except (Failed, engine.EngineError) as exc:
        print(f"converge: {exc}", file=sys.stderr)
        return 1
    except envfiles.EnvError as exc:
        print(f"converge: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
