"""Deploy an environment to Docker Swarm:  scripts/swarm-deploy [ENV] [--no-build] [--print] [--timeout 900]

The stack is rendered from compose.yml and deploy/swarm/ with the environment's env-file layers
(scripts/swarm/swarm_stack.py). Swarm has no `service_completed_successfully`, so the one-shot jobs
(the migrations) are a step of their own, after what they need and before the rollout. Steps:
check the configuration, build the app image, render the stack, find a node for each placement
constraint (and refuse a swarm of several nodes without a registry), push every image to
SWARM_REGISTRY and pin the stack to the digests pushed, create the Docker secrets that are new,
start the data services and wait until they are healthy, run the one-shot jobs to completion,
roll out the long-running services and wait until every one has converged (an update that Swarm
rolled back fails the deploy), spread the replicas of a service again where some share a node
while another of its nodes runs none (after a node came back), have the certificates service get
the certificate TLS_MODE says and wait until nginx serves it, verified (as scripts/up does:
scripts/stack/certificate.py; the service and nginx run on the node labelled
migraine-forecast.edge), then remove the secret and config versions that no service uses any more
and the exited containers of earlier job runs on this node.

Re-running it is safe: secrets are named by their content and never rewritten, an unchanged
service is left alone, and the migrations have nothing to do.

Exit status per failing step: 1 configuration refused, 2 usage or rendering, 10 Docker or the
swarm not usable, 11 build, 12 placement, 13 secrets, 14 data services, 15 a job failed,
16 the rollout failed or was rolled back, 17 cleanup, 18 pushing the images to the registry,
1 or 24 the certificate (scripts/stack/certificate.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from scripts._steps import StepFailed, Steps
from scripts.settings import envfiles, release
from scripts.stack import certificate, check_env, engine
from scripts.swarm import swarm_stack

POLL_SECONDS = 2.0
# Building the app and backup images from scratch on a slow host.
BUILD_TIMEOUT = 1800
# Seconds a push or a pull may take: it moves whole images.
TRANSFER_TIMEOUT = 1800.0
# Where an update ends when it failed (failure_action rollback; pause if an operator chose that).
UPDATE_FAILED = {"rollback_completed", "rollback_paused", "paused"}
FAILED_TASK = {"failed", "rejected", "orphaned"}
LABEL_CONSTRAINT = re.compile(r"^node\.labels\.(?P<label>[\w.-]+)\s*==\s*(?P<value>\S+)$")


class Docker:
    """The docker CLI, which speaks to the swarm's manager (DOCKER_HOST or the local engine), through
    scripts/stack/engine.py: each call bounded, a failure an engine.EngineError."""

    def run(self, *args: str, stdin: str | None = None) -> str:
        return engine.docker(*args, input=stdin, check=True).stdout

    def lines(self, *args: str) -> list[str]:
        return self.run(*args).split()

    def names(self, kind: str, *filters: str) -> list[str]:
        """The names of the secrets or configs (`kind`) that match `filters`."""
        listed = self.run(kind, "ls", "--format", "{{json .}}", *filters)
        return [json.loads(line)["Name"] for line in listed.splitlines() if line.strip()]

    def inspect(self, kind: str, *names: str) -> list[dict]:
        """`docker <kind> inspect` of what exists among `names` (missing ones are left out)."""
        return engine.inspect(*names, kind=kind)

    def nodes(self) -> list[dict]:
        """`docker node ls` as JSON rows (ID, Hostname, Status, Availability, ManagerStatus...)."""
        listed = engine.docker("node", "ls", "--format", "{{json .}}", check=True)
        return [json.loads(line) for line in listed.stdout.splitlines() if line]

    def has_image(self, image: str) -> bool:
        return bool(engine.image_ids(image))

    def transfer(self, *args: str) -> None:
        """`docker pull|push|tag ...`: pushes and pulls move whole images, so they get longer."""
        engine.docker(*args, timeout=TRANSFER_TIMEOUT, check=True)

    def repo_digests(self, image: str) -> list[str]:
        """The image's NAME@sha256:... references: one per registry repository it was pushed to or pulled from."""
        found = engine.docker_json("image", "inspect", image)
        return list(found[0].get("RepoDigests") or []) if found else []

    def deploy(self, stack: str, document: dict) -> None:
        # No --prune: a partial document (the data services, the jobs) leaves the other services alone.
        self.run("stack", "deploy", "--with-registry-auth", "--compose-file", "-", stack, stdin=json.dumps(document))


class ServiceFailed(StepFailed):
    """A service that will not converge: its update was rolled back, or its job failed."""

    def __init__(self, code: int, service: str, problem: str, fix: str):
        super().__init__(code, problem, fix)
        self.service = service


@dataclass
class Progress:
    done: bool
    summary: str
    failure: str = ""  # set: it will not get there (rolled back, a job failed)


def service_progress(service: dict, tasks: list[dict], before: dict | None) -> Progress:
    """Where a long-running service stands after a deploy. `before` is the service as it was before
    the deploy (None: new). A changed task template means Swarm runs a rolling update, which must
    have started after the deploy and completed; then every replica must be running (a task with a
    healthcheck only counts as running once healthy). A rollback puts the old task template back
    at once, so an update or rollback that started after the deploy is looked at first."""
    replicas = service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1)
    wanted = [t for t in tasks if t["DesiredState"] == "running"]
    running = [t for t in wanted if t["Status"]["State"] == "running"]
    if before is not None:
        status, previous = service.get("UpdateStatus") or {}, before.get("UpdateStatus") or {}
        started_since = bool(status.get("StartedAt")) and status.get("StartedAt") != previous.get("StartedAt")
        if started_since and status.get("State") == "rollback_started":
            return Progress(False, f"rolling back ({status.get('Message', '')})")
        if started_since and status.get("State") in UPDATE_FAILED:
            return Progress(False, status["State"], f"update {status['State']}: {status.get('Message', '')}")
        if before["Spec"]["TaskTemplate"] != service["Spec"]["TaskTemplate"]:
            if not started_since:
                return Progress(False, "update not started yet")
            if status.get("State") != "completed":
                return Progress(False, f"updating, {len(running)} running")
    if len(running) != replicas or len(wanted) != replicas:
        summary = f"{len(running)}/{replicas} running"
        latest = max(tasks, key=lambda t: t["UpdatedAt"], default=None)
        if latest and latest["Status"]["State"] != "running":
            status = latest["Status"]
            summary += f", newest task {status['State']}" + (f": {status['Err']}" if status.get("Err") else "")
        return Progress(False, summary)
    return Progress(True, f"{replicas}/{replicas} running")


def job_progress(service: dict, tasks: list[dict]) -> Progress:
    """Where a replicated job stands: its tasks of the current run (each deploy is a new JobIteration)."""
    iteration = ((service.get("JobStatus") or {}).get("JobIteration") or {}).get("Index", 0)
    current = [t for t in tasks if (t.get("JobIteration") or {}).get("Index", 0) == iteration]
    states = {t["Status"]["State"] for t in current}
    if "complete" in states:
        return Progress(True, "completed")
    failed = [t for t in current if t["Status"]["State"] in FAILED_TASK]
    if failed:
        status = failed[0]["Status"]
        code = (status.get("ContainerStatus") or {}).get("ExitCode")
        return Progress(False, status["State"], f"{status['State']}: {status.get('Err', '')} (exit code {code})")
    return Progress(False, ", ".join(sorted(states)) or "waiting for a task")


def placement_labels(config: dict) -> dict[tuple[str, str], list[str]]:
    """`node.labels.NAME == VALUE` constraints of the stack: {(NAME, VALUE): the services that need it}."""
    labels: dict[tuple[str, str], list[str]] = {}
    for name, service in config["services"].items():
        for constraint in service.get("deploy", {}).get("placement", {}).get("constraints", []):
            match = LABEL_CONSTRAINT.match(constraint)
            if match:
                labels.setdefault((match["label"], match["value"]), []).append(name)
    return labels


def registry_digest(image: str, repo_digests: list[str]) -> str:
    """The digest `image` has in its registry repository, from the engine's RepoDigests after a push or pull."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    digests = {ref.split("@", 1)[1] for ref in repo_digests if ref.split("@", 1)[0] == repository}
    if len(digests) != 1:
        found = ", ".join(sorted(digests)) or "none"
        raise engine.EngineError(
            f"{image}: the engine names {len(digests)} digests of it in {repository} ({found}), not one"
        )
    return digests.pop()


def eligible_nodes(constraints: list[str], nodes: list[dict]) -> list[str]:
    """IDs of the Ready, Active nodes (`docker node inspect`) that meet `constraints`; only node label
    constraints are read (no other kind is in the stack)."""
    wanted = [(match["label"], match["value"]) for match in map(LABEL_CONSTRAINT.match, constraints) if match]
    return [
        node["ID"]
        for node in nodes
        if node["Status"]["State"] == "ready"
        and node["Spec"]["Availability"] == "active"
        and all((node["Spec"].get("Labels") or {}).get(label) == value for label, value in wanted)
    ]


def crowding(running_per_node: dict[str, int], eligible: list[str]) -> int:
    """How many of a service's tasks share a node while one of its nodes runs none: as many extra replicas
    go to the empty nodes, and scaling back takes them from the fullest (swarmkit's scheduler places a
    new task on the node with the fewest of its service; scaling down removes from the most)."""
    empty = sum(1 for node in eligible if not running_per_node.get(node))
    doubled = sum(count - 1 for node, count in running_per_node.items() if count > 1 and node in eligible)
    return min(empty, doubled)


def unused(candidates: list[str], services: list[dict]) -> list[str]:
    """Secrets and configs of the stack that neither a service's spec nor its previous spec (what a
    rollback returns to) refers to."""
    used = set()
    for service in services:
        for spec in (service.get("Spec"), service.get("PreviousSpec")):
            container = ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
            used |= {ref["SecretName"] for ref in container.get("Secrets") or []}
            used |= {ref["ConfigName"] for ref in container.get("Configs") or []}
    return sorted(set(candidates) - used)


def write_release(env: str) -> str:
    """Name the image and release as scripts/up does, in the same layer (env/ENV.release.env), so that
    bootstrap, scripts/exec and backups agree with what runs; APP_IMAGE_TAG in the environment names a
    tag built elsewhere (e.g. by CI). Returns the release."""
    name = os.environ.pop("APP_IMAGE_TAG", "") or release.commit_name()
    os.environ.pop("SENTRY_RELEASE", None)  # a value left in the shell would win over the layer
    return release.write(env, name)["SENTRY_RELEASE"]


class SwarmDeploy:
    def __init__(self, env: str, args, docker: Docker | None = None):
        self.env = env
        self.args = args
        self.docker = docker or Docker()
        self.steps = Steps("swarm-deploy", 12)

    def run(self) -> None:
        version = write_release(self.env)
        with self.steps.step("configuration check (scripts/check-env)"):
            if check_env.main(["check-env", self.env]) != 0:
                raise StepFailed(
                    1, "the configuration was refused (above)", f"fix it, then run scripts/check-env {self.env}"
                )
        with self.steps.step(f"build the app image (release {version})") as out:
            out["result"] = self.build() if not self.args.no_build else "skipped (--no-build)"
        with self.steps.step("render the stack (compose.yml + deploy/swarm)") as out:
            stack = self.render()
            out["result"] = (
                f"{stack.name}: {len(stack.services())} services, {len(stack.secrets)} secrets, "
                f"jobs {', '.join(stack.jobs)}"
            )
        with self.steps.step("a node for each placement constraint") as out:
            out["result"] = self.check_placement(stack)
        with self.steps.step("images to the registry, pinned by digest") as out:
            out["result"] = self.publish(stack)
        with self.steps.step("Docker secrets") as out:
            out["result"] = self.create_secrets(stack)
        with self.steps.step(f"data services ({', '.join(stack.before_jobs)})") as out:
            out["result"] = self.roll_out(stack, stack.before_jobs, 14)
        with self.steps.step(f"one-shot jobs ({', '.join(stack.jobs)})") as out:
            out["result"] = self.run_jobs(stack)
        with self.steps.step(f"roll out {', '.join(stack.long_running())}") as out:
            out["result"] = self.roll_out(stack, stack.long_running(), 16)
        with self.steps.step("replicas spread over their nodes") as out:
            out["result"] = self.spread(stack)
        with self.steps.step("the certificate (scripts/stack/certificate.py)") as out:
            out["result"] = self.certificate()
        with self.steps.step("remove secret and config versions no service uses, old job containers") as out:
            out["result"] = self.clean_up(stack)

    def build(self) -> str:
        # The app's image, and the backup and certificates services' where their profiles are on.
        services = [
            name for name in ("app", "backup", "certificates") if name in engine.resolved_config(self.env)["services"]
        ]
        result = engine.compose(
            self.env,
            "build",
            *services,
            timeout=BUILD_TIMEOUT,
            fix=f"run scripts/compose {self.env} build {' '.join(services)} to see its progress",
        )
        if result.returncode != 0:
            raise StepFailed(
                11,
                f"the images did not build: {result.stderr.strip()[-800:]}",
                f"run scripts/compose {self.env} build {' '.join(services)} to see the whole output",
            )
        tag = envfiles.read(envfiles.release_file(self.env))["APP_IMAGE_TAG"]
        return ", ".join(f"migraine-forecast-{name}:{tag}" for name in services)

    def render(self) -> swarm_stack.Stack:
        try:
            return swarm_stack.render(self.env)
        except envfiles.EnvError as exc:
            raise StepFailed(
                2,
                str(exc),
                f"fix compose.yml or {swarm_stack.SWARM_DIR}/, then scripts/swarm-deploy {self.env} --print",
            ) from None

    def check_placement(self, stack: swarm_stack.Stack) -> str:
        try:
            if not json.loads(self.docker.run("info", "--format", "{{json .Swarm}}")).get("ControlAvailable"):
                raise StepFailed(
                    10,
                    "this Docker engine is not a swarm manager",
                    "run this on a manager node (or set DOCKER_HOST to one); a new swarm: docker swarm init",
                )
            found = []
            for (label, value), services in placement_labels(stack.config).items():
                nodes = self.docker.lines("node", "ls", "--quiet", "--filter", f"node.label={label}={value}")
                if not nodes:
                    raise StepFailed(
                        12,
                        f"no node has the label {label}={value}, which {', '.join(services)} need(s)",
                        f"label the node(s) for them (deploy/README.md, placement): "
                        f"docker node update --label-add {label}={value} NODE",
                    )
                found.append(f"{label}={value}: {len(nodes)} node(s)")
            working = [
                node["Hostname"]
                for node in self.docker.nodes()
                if node["Status"] == "Ready" and node["Availability"] == "Active"
            ]
        except engine.EngineError as exc:
            raise StepFailed(10, str(exc), "check that Docker runs and this user may use it") from None
        if len(working) > 1 and not stack.images:
            raise StepFailed(
                12,
                f"{len(working)} nodes run tasks ({', '.join(working)}), but SWARM_REGISTRY is empty: "
                "the images built here would exist on this node only",
                f"set SWARM_REGISTRY in the env files of {self.env} to a registry every node can pull "
                "from (docker login to it first if it needs credentials)",
            )
        return "; ".join(found) or "no constraints"

    def publish(self, stack: swarm_stack.Stack) -> str:
        """Every image into the registry, and the stack pinned to the digests pushed: a node that starts a
        task later (a node lost, a rebalance) pulls exactly these bytes, whatever a tag points at by then."""
        if not stack.images:
            return "no registry (SWARM_REGISTRY empty): each node uses the images it has"
        digests = {}
        try:
            for target, source in stack.images.items():
                digests[target] = self.publish_image(source, target)
                print(f"\n    {target}: {digests[target]}", end="", flush=True)
        except engine.EngineError as exc:
            print()
            raise StepFailed(
                18,
                str(exc),
                "check that this engine reaches the registry and may push to it "
                "(docker login REGISTRY; a registry with a private CA: its certificate in "
                "/etc/docker/certs.d/HOST:PORT/ca.crt on every node)",
            ) from None
        print()
        stack.pin(digests)
        return f"{len(digests)} images pinned"

    def publish_image(self, source: str, target: str) -> str:
        """Push `source` (this engine's image) as `target`; returns the digest the registry holds for it."""
        if not self.docker.has_image(source):
            try:  # built and pushed elsewhere (CI, --no-build), or pushed by an earlier deploy
                self.docker.transfer("pull", "--quiet", target)
                return registry_digest(target, self.docker.repo_digests(target))
            except engine.EngineError:
                self.docker.transfer("pull", "--quiet", source)
        self.docker.transfer("tag", source, target)
        self.docker.transfer("push", "--quiet", target)
        return registry_digest(target, self.docker.repo_digests(target))

    def certificate(self) -> str:
        """As scripts/up's step 5: the certificate TLS_MODE says, served by nginx and verified."""
        values = envfiles.read_environment(self.env)
        if values.get("TLS_MODE") == "off":
            return "TLS_MODE=off: TLS ends in front of nginx"
        certificate.obtain(self.env, values)
        return certificate.wait_until_served(self.env, values, self.args.timeout)

    def create_secrets(self, stack: swarm_stack.Stack) -> str:
        try:
            existing = set(self.docker.names("secret"))
            created = 0
            for secret in stack.secrets:
                if secret.name not in existing:
                    # From stdin: the value is never written to a file or put on a command line.
                    self.docker.run(
                        "secret",
                        "create",
                        "--label",
                        f"{swarm_stack.NAMESPACE_LABEL}={stack.name}",
                        secret.name,
                        "-",
                        stdin=secret.value,
                    )
                    created += 1
        except engine.EngineError as exc:
            raise StepFailed(13, str(exc), "check the swarm's secrets: docker secret ls") from None
        return f"{created} created, {len(stack.secrets) - created} unchanged"

    def qualified(self, stack: swarm_stack.Stack, names: list[str]) -> list[str]:
        return [f"{stack.name}_{name}" for name in names]

    def roll_out(self, stack: swarm_stack.Stack, services: list[str], code: int) -> str:
        names = self.qualified(stack, services)
        before = {s["Spec"]["Name"]: s for s in self.docker.inspect("service", *names)}
        self.deploy(stack, services, code)

        def progress(service: dict, tasks: list[dict]) -> Progress:
            return service_progress(service, tasks, before.get(service["Spec"]["Name"]))

        try:
            self.wait(names, progress, code)
        except ServiceFailed as failure:
            undone = self.roll_back_the_others(before, failure.service)
            if undone:
                failure.problem += f"; rolled back with it, so that one release runs: {', '.join(undone)}"
            raise
        return "every service converged"

    def roll_back_the_others(self, before: dict[str, dict], failed: str) -> list[str]:
        """After a failed rollout, the services whose update to the same release did succeed go back too
        (the scheduler runs the app's image: it must not stay on a release the app could not start).
        The migrations stay applied: they must work with the previous release too."""
        undone = []
        for service in self.docker.inspect("service", *before):
            name, old = service["Spec"]["Name"], before[service["Spec"]["Name"]]
            if (
                name != failed
                and old["Spec"]["TaskTemplate"] != service["Spec"]["TaskTemplate"]
                and service.get("PreviousSpec")
            ):
                try:
                    self.docker.run("service", "rollback", "--detach", name)
                    undone.append(name)
                except engine.EngineError as exc:
                    print(f"swarm-deploy: could not roll back {name}: {exc}", file=sys.stderr)
        return undone

    def spread(self, stack: swarm_stack.Stack) -> str:
        """Tasks moved off a lost node stay where they went when it returns, and a start-first update can
        place both new replicas on the node that came back (the old task still counts while its
        successor starts). So after the rollout, a service whose replicas share a node while another
        of its nodes runs none is scaled up by that many (the new tasks go to the empty nodes), then
        back (Swarm removes tasks from the fullest node): no replica stops before another runs."""
        nodes = self.docker.inspect("node", *self.docker.lines("node", "ls", "--quiet"))
        names = {node["ID"]: node["Description"]["Hostname"] for node in nodes}
        spread = []
        for name in self.qualified(stack, stack.long_running()):
            service = self.docker.inspect("service", name)[0]
            replicas = service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1)
            placement = service["Spec"]["TaskTemplate"].get("Placement") or {}
            before = self.running_per_node(name)
            extra = crowding(before, eligible_nodes(placement.get("Constraints") or [], nodes))
            if replicas < 2 or not extra:
                continue
            for count in (replicas + extra, replicas):
                self.docker.run("service", "scale", "--detach", f"{name}={count}")
                self.wait([name], lambda service, tasks: service_progress(service, tasks, None), 16)

            def where(per_node: dict[str, int]) -> str:
                return ", ".join(f"{names.get(node, node)} {count}" for node, count in sorted(per_node.items()))

            spread.append(f"{name} ({where(before)} -> {where(self.running_per_node(name))})")
        return f"spread again: {'; '.join(spread)}" if spread else "every service's replicas are spread"

    def running_per_node(self, service: str) -> dict[str, int]:
        task_ids = self.docker.lines(
            "service", "ps", "--quiet", "--no-trunc", "--filter", "desired-state=running", service
        )
        running = [task for task in self.docker.inspect("", *task_ids) if task["Status"]["State"] == "running"]
        return dict(Counter(task["NodeID"] for task in running))

    def run_jobs(self, stack: swarm_stack.Stack) -> str:
        self.deploy(stack, stack.jobs, 15)
        self.wait(self.qualified(stack, stack.jobs), job_progress, 15)
        return "completed"

    def deploy(self, stack: swarm_stack.Stack, services: list[str], code: int) -> None:
        try:
            self.docker.deploy(stack.name, stack.document(services))
        except engine.EngineError as exc:
            raise StepFailed(code, str(exc), f"check the stack file: scripts/swarm-deploy {self.env} --print") from None

    def wait(self, names: list[str], progress: Callable[[dict, list[dict]], Progress], code: int) -> None:
        """Poll until every service is done; a line per change of state; fail on a failure or the timeout."""
        started = time.monotonic()
        shown: dict[str, str] = {}
        while True:
            services = {s["Spec"]["Name"]: s for s in self.docker.inspect("service", *names)}
            task_ids = self.docker.lines("service", "ps", "--quiet", "--no-trunc", *services) if services else []
            tasks = self.docker.inspect("", *task_ids)
            states = {
                name: progress(services[name], [t for t in tasks if t["ServiceID"] == services[name]["ID"]])
                for name in names
                if name in services
            }
            for name, state in states.items():
                if shown.get(name) != state.summary:
                    print(f"\n    {name}: {state.summary}", end="", flush=True)
                    shown[name] = state.summary
            failed = {name: state.failure for name, state in states.items() if state.failure}
            if failed:
                print()
                name, failure = next(iter(failed.items()))
                raise ServiceFailed(
                    code,
                    name,
                    f"{name}: {failure}",
                    f"see docker service ps --no-trunc {name} and docker service logs {name}",
                )
            if len(states) == len(names) and all(state.done for state in states.values()):
                print()
                return
            if time.monotonic() - started > self.args.timeout:
                print()
                waiting = [f"{name} ({state.summary})" for name, state in states.items() if not state.done]
                raise StepFailed(
                    code,
                    f"not converged after {self.args.timeout:.0f} s: {', '.join(waiting)}",
                    "see docker service ps --no-trunc SERVICE; raise --timeout on a slow cluster",
                )
            time.sleep(POLL_SECONDS)

    def clean_up(self, stack: swarm_stack.Stack) -> str:
        label = f"label={swarm_stack.NAMESPACE_LABEL}={stack.name}"
        try:
            services = self.docker.inspect("service", *self.docker.lines("service", "ls", "--quiet", "--filter", label))
            removed = []
            for kind in ("secret", "config"):
                candidates = self.docker.names(kind, "--filter", label)
                for name in unused(candidates, services):
                    self.docker.run(kind, "rm", name)
                    removed.append(name)
            # Swarm keeps the exited container of every run of a job (one per deploy, measured): on this
            # node, all but the newest run's go (its logs stay readable with docker service logs).
            containers = 0
            for job in self.qualified(stack, stack.jobs):
                old = self.docker.lines(
                    "ps",
                    "--all",
                    "--quiet",
                    "--filter",
                    "status=exited",
                    "--filter",
                    f"label=com.docker.swarm.service.name={job}",
                )[1:]  # newest first
                if old:
                    self.docker.run("rm", *old)
                    containers += len(old)
        except engine.EngineError as exc:
            raise StepFailed(17, str(exc), "remove old versions by hand: docker secret ls, docker config ls") from None
        return f"{len(removed)} secret/config versions and {containers} exited job containers removed"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="swarm-deploy", description=__doc__.split("\n")[0].split(":")[0])
    parser.add_argument("env", nargs="?", help="development, staging or production (default: $APP_ENV)")
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="use the image as it is (built and pushed elsewhere: APP_IMAGE_TAG names it)",
    )
    parser.add_argument(
        "--print",
        action="store_true",
        help="print the rendered stack file (JSON, no secret values) and stop; deploy nothing",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds each waiting step may take (default 900)")
    args = parser.parse_args(argv[1:])
    steps = Steps("swarm-deploy", 1)
    try:
        env = envfiles.environment(args.env)
        if args.print:
            print(json.dumps(swarm_stack.render(env).config, indent=2))
            return 0
        deploy = SwarmDeploy(env, args)
        steps = deploy.steps
        print(f"swarm-deploy {env}")
        deploy.run()
    except engine.EngineError as exc:
        print(f"swarm-deploy: {exc}", file=sys.stderr)
        return 10
    except envfiles.EnvError as exc:
        print(f"swarm-deploy: {exc}", file=sys.stderr)
        return 2
    except StepFailed as error:
        return steps.fail(error)
    if envfiles.read_environment(env).get("SENTRY_DSN"):
        print("Deployed.")
    else:  # the first deploy: GlitchTip runs now, but nobody has provisioned it yet
        print(
            f"Deployed, without a DSN yet. Provision GlitchTip, then deploy again so that the services get "
            f"it: scripts/bootstrap-glitchtip {env} && scripts/swarm-deploy {env} --no-build && "
            f"scripts/smoke-test {env}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
