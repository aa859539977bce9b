"""Rehearse the Swarm deployment on a real three-node swarm built on this machine, then tear it down.

    deploy/swarm/rehearse               build the cluster and a registry, deploy, drill, tear down
    deploy/swarm/rehearse --no-drills   build, deploy, show the placement, tear down
    deploy/swarm/rehearse --keep        leave the cluster running at the end (for a look around)
    deploy/swarm/rehearse --teardown    remove what a kept or interrupted rehearsal left

The cluster (scripts/swarm/local_cluster.py): this machine's engine as the manager (the edge node and
an app node), two engines in network namespaces (the data node mfnode1 and the app node mfnode2)
joined over a bridge, and Debian's docker-registry on the bridge with a CA of its own. The stack is
deployed from a copy of this checkout's files (git's tracked and untracked, not ignored) in the
development environment, under its own project name (migraine-forecast-rehearsal), with
SWARM_REGISTRY naming the rehearsal's registry: scripts/swarm-deploy builds the app, pushes every
image there and pins the stack to the digests, and the engines in the namespaces pull from it.
Nothing of the operator's own environments, stacks or env files is touched.

Phases, each timed (the summary at the end): checks, cluster, registry, bundle, deploy, placement,
drills (scripts/swarm/drills.py), tear-down. Needs root on Linux, a running Docker engine not in a
swarm, iproute2, util-linux, openssl, docker-registry, free ports 80, 8001 and 8025, and network
namespaces; where one is missing it refuses before making anything.

Exit status: 0 done, every expectation met; 1 it cannot run here (what to fix is printed);
2 usage; 3 a phase failed (what was made is torn down, unless --keep); 4 a drill's expectation
was not met.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.settings import envfiles, release
from scripts.stack import engine
from scripts.swarm import drills, local_cluster, swarm_deploy
from scripts.swarm.local_cluster import ClusterError

ENV = "development"
PROJECT = "migraine-forecast-rehearsal"
BUNDLE = local_cluster.STATE / "bundle"
BASE_URL = "http://localhost"
PUBLISHED_PORTS = (80, 8001, 8025)  # nginx's (the app, GlitchTip) and the mail catcher's, on the edge node
TOOLS = {
    "ip": "iproute2",
    "iptables": "iptables",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "dockerd": "docker.io",
    "openssl": "openssl",
    "docker-registry": "docker-registry",
    "git": "git",
}
DEPLOY_TIMEOUT = 2400
DATA_NODE, WORKER = local_cluster.NODES


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    outcome: str = ""


@dataclass
class Rehearsal:
    keep: bool
    drill: bool
    phases: list[Phase] = field(default_factory=list)
    drills: list[drills.Drill] = field(default_factory=list)
    registry: local_cluster.Registry = field(
        default_factory=lambda: local_cluster.Registry(
            local_cluster.registry_address(), local_cluster.STATE / "registry"
        )
    )

    def phase(self, name: str, work: Callable[[], str]) -> None:
        print(f"==> {name}", flush=True)
        started = time.monotonic()
        phase = Phase(name)
        self.phases.append(phase)
        try:
            phase.outcome = work() or "done"
        finally:
            phase.seconds = time.monotonic() - started
            print(f"    ({name}: {phase.outcome or 'FAILED'}, {phase.seconds:.0f} s)", flush=True)

    def run(self) -> int:
        self.phase("checks", checks)
        try:
            self.phase("cluster: bridge, two engines in network namespaces, swarm, labels", build_cluster)
            self.phase("registry on the bridge (TLS, trusted by every engine)", self.start_registry)
            self.phase("bundle: a copy of this checkout with the rehearsal's settings", prepare_bundle)
            self.phase("deploy: scripts/swarm-deploy development", lambda: check_deploy(deploy(release_name(0))))
            self.phase("placement", show_placement)
            if self.drill:
                self.phase("drills", self.run_drills)
        except (ClusterError, engine.EngineError, envfiles.EnvError, OSError) as exc:
            print(f"rehearse: {exc}", file=sys.stderr)
            status = 3
        else:
            status = 4 if any(drill.problems for drill in self.drills) else 0
        finally:
            if not self.keep:
                try:
                    self.phase("tear-down", lambda: tear_down(self.registry))
                except ClusterError as exc:  # what is left was named; the summary still comes
                    print(f"rehearse: {exc}", file=sys.stderr)
                    status = 3
        self.summary()
        if self.keep:
            print(
                f"\nThe cluster is still running (DOCKER_HOST of the namespaced engines: unix://{WORKER.socket} "
                f"...). Tear it down with: deploy/swarm/rehearse --teardown"
            )
        return status

    def start_registry(self) -> str:
        self.registry.make_certificates()
        self.registry.start()
        trusted = self.registry.trust()
        return f"https://{self.registry.address}, CA in {trusted}"

    def run_drills(self) -> str:
        stack = drills.Rehearsed(PROJECT, BASE_URL, deploy)
        for drill in (
            lambda: drills.rolling_update(stack, release_name(1)),
            lambda: drills.worker_lost(stack, WORKER, release_name(2)),
            lambda: drills.data_node_lost(stack, DATA_NODE),
        ):
            print(flush=True)
            self.drills.append(drill())
            print(
                f"  -- {self.drills[-1].name}: "
                f"{'as expected' if not self.drills[-1].problems else '; '.join(self.drills[-1].problems)}"
            )
        show_placement()
        failed = sum(1 for drill in self.drills if drill.problems)
        return f"{len(self.drills) - failed} of {len(self.drills)} as expected"

    def summary(self) -> None:
        load = os.getloadavg()
        print(f"\n== rehearsal summary (load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} CPUs)")
        for phase in self.phases:
            print(f"  {phase.seconds:6.0f} s  {phase.name}: {phase.outcome or 'FAILED'}")
        for drill in self.drills:
            print(f"  drill: {drill.name}" + ("" if not drill.problems else "  [NOT AS EXPECTED]"))
            for line in drill.lines:
                print(f"      {line}")


# ---- the phases ---------------------------------------------------------------------------------------------


def refusals() -> list[str]:
    """Why the rehearsal cannot run here, each with its fix; nothing is made while finding out."""
    if sys.platform != "linux":
        return ["it needs Linux (network namespaces, a bridge): run it on a Linux machine or VM"]
    if os.geteuid() != 0:
        return [
            "it must run as root: it makes a bridge, network namespaces and Docker engines (sudo deploy/swarm/rehearse)"
        ]
    problems = [
        f"`{tool}` is not installed: apt-get install {package}"
        for tool, package in TOOLS.items()
        if not shutil.which(tool)
    ]
    if not shutil.which("docker"):
        return problems + ["the docker CLI is not installed: apt-get install docker.io"]
    info = engine.docker("info", "--format", "{{json .Swarm}}")
    if info.returncode != 0:
        return problems + [
            f"the Docker engine does not answer ({engine.last_lines(info.stderr, 1)}): start it "
            "(systemctl start docker, or dockerd &)"
        ]
    swarm = json.loads(info.stdout or "{}") or {}
    if swarm.get("LocalNodeState") not in ("inactive", "", None):
        if swarm.get("NodeAddr") == local_cluster.MANAGER_ADDRESS:
            problems.append(
                "a rehearsal is still there (this engine is in its swarm): deploy/swarm/rehearse --teardown"
            )
        else:
            problems.append(
                "this Docker engine is in a swarm already; the rehearsal makes a swarm of its own: "
                "run it on a machine whose engine is in none (or docker swarm leave --force)"
            )
    try:
        leftovers = local_cluster.network_exists() if shutil.which("ip") else []
    except ClusterError as exc:
        leftovers, problems = (
            [],
            problems
            + [
                f"`ip netns` does not work here ({exc}): the rehearsal needs network "
                "namespaces (a container without CAP_SYS_ADMIN has none)"
            ],
        )
    if leftovers:
        problems.append(
            f"{', '.join(leftovers)} exist(s) already, left by an earlier rehearsal: deploy/swarm/rehearse --teardown"
        )
    elif shutil.which("ip") and not problems:
        problems += netns_refusal()
    busy = [str(port) for port in PUBLISHED_PORTS if not local_cluster.port_free(port)]
    if busy:
        problems.append(
            f"port(s) {', '.join(busy)} on this machine are in use; the edge node publishes nginx and "
            "the mail catcher there: stop what uses them (a Compose stack of the bundle: "
            "scripts/compose ENV down)"
        )
    return problems


def netns_refusal() -> list[str]:
    """Try making (and deleting) a network namespace: containers without the privilege cannot."""
    probe = f"mfprobe{os.getpid()}"
    try:
        local_cluster.host("ip", "netns", "add", probe)
        local_cluster.host("ip", "netns", "del", probe)
    except ClusterError as exc:
        return [f"this machine does not allow network namespaces ({exc}): run the rehearsal on a host or VM, as root"]
    return []


def checks() -> str:
    try:
        problems = refusals()
    except engine.EngineError as exc:  # the engine hangs
        problems = [str(exc)]
    if problems:
        raise Refused(problems)
    return "root, Linux, the tools, an engine in no swarm, network namespaces, ports free"


class Refused(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def build_cluster() -> str:
    local_cluster.remember_before()
    local_cluster.create_network()
    for node in local_cluster.NODES:
        local_cluster.start_engine(node)
    local_cluster.create_swarm()
    rows = [f"{row['Hostname']} ({row['ManagerStatus'] or 'worker'})" for row in local_cluster.nodes()]
    labels = {row["Hostname"]: labels_of(row["ID"]) for row in local_cluster.nodes()}
    for hostname, node_labels in labels.items():
        print(f"    {hostname}: {', '.join(node_labels)}")
    return f"{len(rows)} nodes Ready: {', '.join(rows)}"


def labels_of(node_id: str) -> list[str]:
    spec = engine.docker_json("node", "inspect", node_id)[0]["Spec"]
    return sorted(f"{key}={value}" for key, value in (spec.get("Labels") or {}).items())


def prepare_bundle() -> str:
    """This checkout's files (not its generated layers, .venv or backups) in BUNDLE, with the
    rehearsal's settings in the copy's env/development.env, and secrets of its own."""
    commit()
    listed = local_cluster.host(
        "git", "-C", str(envfiles.REPO), "ls-files", "--cached", "--others", "--exclude-standard", "-z"
    )
    if BUNDLE.exists():
        shutil.rmtree(BUNDLE)
    files = [name for name in listed.split("\0") if name and (envfiles.REPO / name).is_file()]
    for name in files:
        target = BUNDLE / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(envfiles.REPO / name, target)
    mesh = Path("/proc/net/ip_vs").exists()
    # DJANGO_DEBUG off: the drills show what users of a real site see (the site's error page, not
    # Django's debug page).
    settings = {
        "COMPOSE_PROJECT_NAME": PROJECT,
        "SWARM_REGISTRY": local_cluster.registry_address(),
        "SWARM_ROUTING_MESH": "true" if mesh else "false",
        "DJANGO_DEBUG": "false",
    }
    envfiles.update(envfiles.settings_file(ENV, BUNDLE), settings)
    local_cluster.host(
        sys.executable, "-P", "-m", "scripts.settings.generate_secrets", ENV, cwd=BUNDLE, env=bundle_environment()
    )
    return (
        f"{len(files)} files in {BUNDLE}; "
        + ", ".join(f"{key}={value}" for key, value in settings.items())
        + ("" if mesh else " (no IPVS in this kernel: no routing mesh)")
    )


def bundle_environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(BUNDLE), "APP_ENV": ENV, **extra}


@functools.cache
def commit() -> str:
    """The checkout's commit when the rehearsal copied it (the releases are named after it)."""
    return release.commit_name()


def release_name(number: int) -> str:
    return f"rehearsal-{commit()}" + (f"-{number}" if number else "")


def deploy(name: str) -> tuple[int, list[str]]:
    """scripts/swarm-deploy of the copy for the release `name` (image migraine-forecast-app:`name`), its
    output shown indented; returns its exit status and its lines."""
    print(f"    scripts/swarm-deploy {ENV} (APP_IMAGE_TAG={name})", flush=True)
    return local_cluster.stream(
        [sys.executable, "-P", "-m", "scripts.swarm.swarm_deploy", ENV, "--timeout", "900"],
        cwd=BUNDLE,
        env=bundle_environment(APP_IMAGE_TAG=name),
        timeout=DEPLOY_TIMEOUT,
        indent="      ",
    )


def check_deploy(result: tuple[int, list[str]]) -> str:
    status = result[0]
    if status != 0:
        raise ClusterError(f"scripts/swarm-deploy exited {status} (above)")
    return "deployed"


def show_placement() -> str:
    """`docker service ps` of every service of the stack (its running tasks), as the operator reads it,
    then the placement checked against each service's constraints."""
    services = engine.docker(
        "service", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={PROJECT}", check=True
    ).stdout.split()
    table = engine.docker(
        "service",
        "ps",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        "--format",
        "table {{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Image}}",
        *services,
        check=True,
    ).stdout
    for line in table.splitlines():
        print(f"    {line}")
    problems = placement_problems()
    for problem in problems:
        print(f"    NOT AS INTENDED: {problem}")
    return "as intended" if not problems else f"{len(problems)} problem(s)"


def placement_problems() -> list[str]:
    """Each running task on a node its service's constraints allow; no two replicas of a service on one node
    while another of its nodes runs none; every image pinned by digest in the rehearsal's registry."""
    nodes = engine.inspect(*[row["ID"] for row in local_cluster.nodes()])
    hostnames = {node["ID"]: node["Description"]["Hostname"] for node in nodes}
    services = engine.docker(
        "service", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={PROJECT}", check=True
    ).stdout.split()
    problems = []
    for service in engine.inspect(*services):
        name = service["Spec"]["Name"]
        constraints = (service["Spec"]["TaskTemplate"].get("Placement") or {}).get("Constraints") or []
        eligible = swarm_deploy.eligible_nodes(constraints, nodes)
        image = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        if not image.startswith(f"{local_cluster.registry_address()}/") or "@sha256:" not in image:
            problems.append(f"{name} runs {image}, not an image of the registry pinned by digest")
        task_ids = engine.docker(
            "service", "ps", "--quiet", "--no-trunc", "--filter", "desired-state=running", name, check=True
        ).stdout.split()
        per_node: dict[str, int] = {}
        for task in engine.inspect(*task_ids):
            if task["Status"]["State"] != "running" or "Replicated" not in service["Spec"]["Mode"]:
                continue
            per_node[task["NodeID"]] = per_node.get(task["NodeID"], 0) + 1
            if task["NodeID"] not in eligible:
                problems.append(f"{name} runs on {hostnames.get(task['NodeID'])}, outside {constraints}")
        if swarm_deploy.crowding(per_node, eligible):
            problems.append(f"{name}'s replicas share a node while another of its nodes runs none")
    return problems


def tear_down(registry: local_cluster.Registry) -> str:
    done, failed = local_cluster.tear_down(registry, PROJECT)
    # The app images the rehearsal built (its own tags: migraine-forecast-app:rehearsal-...).
    try:
        remove_rehearsal_images()
    except engine.EngineError as exc:
        failed.append(f"the rehearsal's app images: {exc}")
    if BUNDLE.exists():
        shutil.rmtree(BUNDLE)
    for problem in failed:
        print(f"    could not remove {problem}", file=sys.stderr)
    if failed:
        raise ClusterError(f"{len(failed)} thing(s) could not be removed (above): remove them by hand")
    return (
        f"{len(done)} steps; this engine is in no swarm, no namespace or bridge is left (the engines' logs stay "
        f"in {local_cluster.STATE / 'logs'})"
    )


def remove_rehearsal_images() -> None:
    listed = engine.docker("image", "ls", "--format", "{{json .}}", "migraine-forecast-app", check=True).stdout
    tags = [
        f"{row['Repository']}:{row['Tag']}"
        for row in map(json.loads, listed.splitlines())
        if row["Tag"].startswith("rehearsal-")
    ]
    if tags:
        engine.docker("image", "rm", *tags, timeout=120, check=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deploy/swarm/rehearse", description=__doc__.split("\n")[0])
    parser.add_argument("--no-drills", action="store_true", help="deploy and show the placement only")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    parser.add_argument("--teardown", action="store_true", help="remove what an earlier rehearsal left, and stop")
    args = parser.parse_args(argv[1:])
    rehearsal = Rehearsal(keep=args.keep, drill=not args.no_drills)
    try:
        if args.teardown:
            if os.geteuid() != 0:
                raise Refused(["--teardown must run as root"])
            print(f"rehearse: {tear_down(rehearsal.registry)}")
            return 0
        return rehearsal.run()
    except Refused as refused:
        print("rehearse: cannot run here:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except (ClusterError, engine.EngineError) as exc:
        print(f"rehearse: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
