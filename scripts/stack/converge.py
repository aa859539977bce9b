"""Bring a running stack to its configuration, touching only what changed (scripts/up, steps 4 and 6).

Usage: python3 -m scripts.stack.converge ENV [--timeout 600]

A plain `docker compose up` does more than that: it starts every exited one-shot again, so both
migrations run on each `up` (10-30 s; Compose does this by design, docker/compose#11590), and
before it recreates a service it stops the services that depend on it. Instead:

1. ask Compose what it would recreate (`up --dry-run`) and read what exists (`ps --all`);
2. plan (`plan()`): the long-running services that are missing, stopped, unhealthy or would be
   recreated; the one-shots (migrations) that never ran, failed, or would be recreated;
3. start what those one-shots need, run them while the running containers go on serving (the
   old app keeps answering during the migrations), then create, recreate or start the
   long-running services; each call names its services with --no-deps, so nothing outside the
   plan is stopped. It waits until each is healthy.
4. The app (ROLLING) is not stopped and then started: its new container is created beside the
   old one (`--scale app=2 --no-recreate`) and started off the network, so that nginx cannot
   send it requests while its workers still load Django; once its healthcheck passes (over
   loopback) it joins the network under the service's name, and the old one is stopped. nginx
   finds the app by name at each request (its resolver keeps answers 1 s, and a refused
   connection goes to the next address), so users see no gap.

A stack with no containers yet is started with one plain `up --detach --wait`.
Exit status: 0 converged, 1 a service failed (its last log lines are shown), 2 usage.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

from scripts.settings import envfiles
from scripts.stack import engine
from scripts.stack.engine import docker

# A line of `up --dry-run`: " DRY-RUN MODE -  Container mf-ops-app-1  Recreate".
_DRY_RUN_RECREATE = re.compile(r"Container\s+(\S+)\s+Recreate\b")
# Stateless web servers behind nginx: replaced by starting the new container before stopping the
# old. Not the scheduler: two of it would run each job twice.
ROLLING = ("app",)
# nginx keeps Docker's DNS answers this long (resolver ... valid=1s in nginx/templates): the old
# container goes only once every cached answer also names the new one.
RESOLVER_CACHE_SECONDS = 1.0
CHANGED = "configuration or image changed"


@dataclass(frozen=True)
class Service:
    name: str
    one_shot: bool
    needs: tuple[str, ...]  # the services it depends on


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    service: str
    state: str  # running, exited, created...
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    exit_code: int


@dataclass
class Plan:
    fresh: bool = False
    prepare: list[str] = field(default_factory=list)  # long-running services the one-shots need
    run_once: list[str] = field(default_factory=list)  # one-shots to run
    converge: list[str] = field(default_factory=list)  # long-running services to (re)create or start
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.fresh or self.prepare or self.run_once or self.converge)


def services_of(config: dict) -> dict[str, Service]:
    """The services of a resolved configuration; a one-shot is one another service waits to complete."""
    raw = config.get("services", {})
    one_shots = {name for service in raw.values() for name, dependency in (service.get("depends_on") or {}).items()
                 if dependency.get("condition") == "service_completed_successfully"}
    return {name: Service(name, name in one_shots, tuple(sorted(service.get("depends_on") or {})))
            for name, service in raw.items()}


def containers_of(ps_output: str) -> dict[str, Container]:
    """`ps --all --format json` (one object a line, or one list in older releases), by service."""
    return {row["Service"]: Container(row["ID"], row["Name"], row["Service"], row.get("State", ""),
                                      row.get("Health", ""), int(row.get("ExitCode") or 0))
            for row in engine.ps_rows(ps_output)}


def recreated_by_compose(dry_run_output: str, containers: dict[str, Container]) -> set[str]:
    """The services whose container `up --dry-run` would recreate (configuration or image changed)."""
    by_name = {container.name: service for service, container in containers.items()}
    return {by_name[name] for name in _DRY_RUN_RECREATE.findall(dry_run_output) if name in by_name}


def plan(services: dict[str, Service], containers: dict[str, Container], recreate: set[str]) -> Plan:
    """What to do so that every service runs its current configuration, and nothing more."""
    result = Plan()
    if not any(name in containers for name in services):
        result.fresh = True
        return result
    for name, service in services.items():
        container = containers.get(name)
        if container is None:
            reason = "not created yet"
        elif name in recreate:
            reason = CHANGED
        elif service.one_shot:
            reason = ("" if container.state == "exited" and container.exit_code == 0
                      else f"last run {container.state}, exit {container.exit_code}")
        elif container.state != "running":
            reason = container.state
        elif container.health == "unhealthy":
            reason = "unhealthy"
        else:
            reason = ""
        if reason:
            result.reasons[name] = reason
            (result.run_once if service.one_shot else result.converge).append(name)
    needed = needed_by(services, result.run_once)
    result.prepare = [name for name in result.converge if name in needed]
    result.converge = [name for name in result.converge if name not in needed]
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
    def __init__(self, env: str, timeout: int):
        self.env = env
        self.timeout = str(timeout)
        self.services: dict[str, Service] = {}

    def compose(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(engine.command(self.env, *args), capture_output=capture, text=True)

    def read(self) -> tuple[dict[str, Service], dict[str, Container], set[str]]:
        services = services_of(engine.resolved_config(self.env))
        ps = self.compose("ps", "--all", "--format", "json", capture=True)
        if ps.returncode != 0:
            raise envfiles.EnvError(f"docker compose ps failed: {ps.stderr.strip()}")
        containers = containers_of(ps.stdout)
        recreate: set[str] = set()
        if containers:
            dry_run = self.compose("--dry-run", "up", "--detach", capture=True)
            if dry_run.returncode != 0:
                raise envfiles.EnvError(f"docker compose up --dry-run failed: {dry_run.stderr.strip()[-500:]}")
            recreate = recreated_by_compose(dry_run.stdout + dry_run.stderr, containers)
        return services, containers, recreate

    def run(self) -> int:
        services, containers, recreate = self.read()
        self.services = services
        the_plan = plan(services, containers, recreate)
        if the_plan.fresh:
            print("converge: no containers yet: starting the whole stack", flush=True)
            return self.up([])
        if the_plan.empty:
            print("converge: every service runs its current configuration: nothing to do", flush=True)
            return 0
        for name in the_plan.prepare + the_plan.run_once + the_plan.converge:
            action = "run" if name in the_plan.run_once else "start or recreate"
            print(f"converge: {name}: {the_plan.reasons[name]} -> {action}", flush=True)
        if the_plan.prepare and (status := self.up(the_plan.prepare)):
            return status
        if the_plan.run_once and (status := self.run_once(the_plan.run_once)):
            return status
        # A running service is rolled; one that is stopped or missing has nothing to keep serving.
        rolling = [name for name in the_plan.converge if name in ROLLING and the_plan.reasons[name] == CHANGED]
        # What the rolled services need first, then them (users wait on them), then the rest.
        first = [name for name in the_plan.converge if name in needed_by(self.services, rolling)]
        last = [name for name in the_plan.converge if name not in rolling and name not in first]
        if first and (status := self.up(first)):
            return status
        for name in rolling:
            if status := self.roll(name):
                return status
        return self.up(last) if last else 0

    def up(self, names: list[str]) -> int:
        """`up --wait` of `names` only (--no-deps), or of everything when `names` is empty."""
        selection = ["--no-deps", *names] if names else []
        status = self.compose("up", "--detach", "--wait", "--wait-timeout", self.timeout, *selection).returncode
        if status:
            print(f"converge: {', '.join(names) or 'the stack'} did not become healthy; see "
                  f"scripts/compose {self.env} ps and logs", file=sys.stderr)
        return status

    def roll(self, name: str) -> int:
        """Replace a running service's container with a new one, the new one healthy first."""
        started = time.monotonic()
        old = self.ids(name)
        status = self.compose("up", "--no-start", "--no-deps", "--no-recreate", "--scale", f"{name}={len(old) + 1}",
                              name).returncode
        new = [container for container in self.ids(name) if container not in old]
        if status or not new:
            print(f"converge: could not create a new {name} container", file=sys.stderr)
            return status or 1
        # Off the network while it warms up: Docker's DNS would hand nginx its address as soon as it
        # runs, before gunicorn's workers have loaded the app, and those requests would wait.
        networks = docker_json("inspect", "--format", "{{json .NetworkSettings.Networks}}", new[0])
        for network in networks:
            docker("network", "disconnect", network, new[0])
        docker("start", new[0])
        health = self.wait_healthy(new[0])
        if health == "healthy":
            for network, settings in networks.items():
                aliases = [option for alias in settings.get("Aliases") or [] for option in ("--alias", alias)]
                if docker("network", "connect", *aliases, network, new[0]).returncode:
                    health = f"not connected to {network}"
        if health != "healthy":
            print(f"converge: the new {name} container is {health}; the old one goes on serving. Its last lines:",
                  file=sys.stderr)
            subprocess.run(["docker", "logs", "--tail", "30", new[0]])
            docker("rm", "--force", new[0])
            return 1
        time.sleep(2 * RESOLVER_CACHE_SECONDS)
        # The old container finishes its requests (gunicorn's graceful stop), then goes.
        docker("stop", *old)
        docker("rm", *old)
        print(f"converge: {name} replaced without a gap in {time.monotonic() - started:.1f} s", flush=True)
        return 0

    def ids(self, name: str) -> list[str]:
        return self.compose("ps", "--all", "--quiet", name, capture=True).stdout.split()

    def wait_healthy(self, container: str) -> str:
        """The container's health once it is healthy, unhealthy or gone, or when the timeout passes."""
        deadline = time.monotonic() + int(self.timeout)
        health = "starting"
        while health == "starting" and time.monotonic() < deadline:
            time.sleep(1)
            result = docker("inspect", "--format", "{{.State.Health.Status}}", container)
            health = result.stdout.strip() if result.returncode == 0 else "gone"
        return health

    def run_once(self, names: list[str]) -> int:
        """Start the one-shots (the running services stay as they are) and wait for each to exit 0."""
        started = time.monotonic()
        status = self.compose("up", "--detach", "--no-deps", *names).returncode
        if status:
            return status
        for name in names:
            exit_code = self.wait(name)
            if exit_code != 0:
                print(f"converge: {name} failed (exit {exit_code}); its last lines:", file=sys.stderr)
                self.compose("logs", "--no-log-prefix", "--tail", "30", name)
                return 1
            print(f"converge: {name} done after {time.monotonic() - started:.1f} s", flush=True)
        return 0

    def wait(self, name: str) -> int:
        """The one-shot's exit code, once it has exited."""
        ids = self.ids(name)
        if not ids:
            return -1
        result = docker("wait", ids[0])
        return int(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else -1


def docker_json(*args: str) -> dict:
    result = docker(*args)
    return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="converge", description=__doc__.split("\n")[0])
    parser.add_argument("env", nargs="?")
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for health (default 600)")
    args = parser.parse_args(argv[1:])
    try:
        return Converge(envfiles.environment(args.env), args.timeout).run()
    except envfiles.EnvError as exc:
        print(f"converge: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
