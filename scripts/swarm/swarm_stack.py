"""The Docker Swarm stack of an environment, rendered from the same files as the Compose stack.

`docker stack deploy` reads only part of the Compose format: no `include:`, no `build:`, no
`depends_on` conditions, no profiles, no env-file layers. So the stack is rendered, never
written twice:

1. `docker compose config`, with the environment's env-file layers (scripts/settings/envfiles.py),
   merges compose.yml (and the glitchtip/compose.yml it includes) with deploy/swarm/stack.yml
   (replicas, rolling updates, placement, the one-shot jobs) and, when SWARM_ROUTING_MESH is
   false, deploy/swarm/no-routing-mesh.yml (DNS round-robin, ports published on the node);
2. `to_stack()` turns the result into what `docker stack deploy` takes: every secret becomes
   a Docker secret that the container reads through NAME_FILE, the bundle's own files that
   compose bind-mounts (nginx's templates, the Postgres init script) become Docker configs,
   and what Swarm does not read is dropped.

Secrets and configs are immutable in Swarm, so each is named by its content
(`<stack>_<name>_<digest>`): a changed value is a new object, and the services that use it
roll over to it.

With SWARM_REGISTRY set, every image is named in that registry (`REGISTRY/postgres:17.6`,
`REGISTRY/migraine-forecast-app:<commit>`): scripts/swarm-deploy pushes each there and pins the
services to what it pushed (`REGISTRY/NAME:TAG@sha256:...`), so that every node pulls the same bytes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from scripts.settings import envfiles
from scripts.stack import converge, engine

SWARM_DIR = Path("deploy") / "swarm"
STACK_FILE = SWARM_DIR / "stack.yml"
NO_ROUTING_MESH_FILE = SWARM_DIR / "no-routing-mesh.yml"
NAMESPACE_LABEL = "com.docker.stack.namespace"
SECRETS_DIR = PurePosixPath("/run/secrets")
# Variables that carry a secret. Every image of the stack reads them from the file named by
# NAME_FILE: the app (app/config/secret_files.py), postgres (POSTGRES_PASSWORD_FILE) and
# postgres/initdb.d, GlitchTip (django-environ's FileAwareEnv) except for EMAIL_URL, which
# deploy/swarm/env-from-files exports for it (see deploy/swarm/stack.yml).
SECRET_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "EMAIL_URL",
    "LLM_API_KEY",
    "SENTRY_DSN",
    "HEARTBEAT_URLS",
    "SECRET_KEY",
    "POSTGRES_PASSWORD",
    "APP_DB_PASSWORD",
    "GLITCHTIP_DB_PASSWORD",
    # the backup service's (scripts/backups/data.py reads PGPASSWORD_FILE)
    "PGPASSWORD",
)
# Keys of a service that Swarm does not read: docker stack deploy refuses some and ignores the others.
# (depends_on: scripts/swarm-deploy runs the one-shot jobs and what they need in order instead;
# shm_size: deploy/swarm/stack.yml mounts a tmpfs on /dev/shm.)
UNSUPPORTED = ("build", "depends_on", "restart", "profiles", "shm_size", "pull_policy")
# Docker's limit for the names of secrets and configs.
NAME_LIMIT = 64
# Secret values shorter than this are not looked for in the rendered stack ("true", "1"...).
SHORTEST_SECRET = 8
# SWARM_REGISTRY as in an image name: a registry host (with a dot, or a port, or localhost), then a path if any.
REGISTRY = re.compile(
    r"^(?:(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::[0-9]+)?|[a-z0-9-]+:[0-9]+)"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
)


class StackError(envfiles.EnvError):
    """The rendered stack would be wrong: what to fix is in the message."""


@dataclass(frozen=True)
class Secret:
    key: str  # how the stack file names it
    name: str  # the Docker secret's name
    value: str = field(repr=False)


@dataclass
class Stack:
    name: str
    config: dict  # for `docker stack deploy`; holds no secret value, only the secrets' names
    secrets: list[Secret]
    jobs: list[str]  # one-shot services (compose: service_completed_successfully), run before the rollout
    before_jobs: list[str]  # what the jobs need running first (compose's depends_on of the jobs)
    # With SWARM_REGISTRY: each image's name in the registry -> its name on this engine (compose.yml's).
    images: dict[str, str] = field(default_factory=dict)

    def pin(self, digests: dict[str, str]) -> None:
        """Name every service's image by the digest the registry holds for it (`digests`: registry name ->
        sha256:...), so that every node runs the same bytes whatever the tag points at later."""
        for name, service in self.config["services"].items():
            if service["image"] not in digests:
                raise StackError(f"no digest for {service['image']} (the image of {name})")
            service["image"] = f"{service['image']}@{digests[service['image']]}"

    def services(self) -> list[str]:
        return list(self.config["services"])

    def long_running(self) -> list[str]:
        return [name for name in self.services() if name not in self.jobs]

    def document(self, services: list[str]) -> dict:
        """The stack file with only `services` (and the secrets and configs they use): deploying it
        leaves the stack's other services as they are (no --prune)."""
        document = {key: value for key, value in self.config.items() if key not in ("services", "secrets", "configs")}
        document["services"] = {name: self.config["services"][name] for name in services}
        for kind in ("secrets", "configs"):
            used = {ref["source"] for service in document["services"].values() for ref in service.get(kind, [])}
            if used:
                document[kind] = {key: value for key, value in self.config[kind].items() if key in used}
        return document


def compose_files(values: dict[str, str], root: Path = envfiles.REPO) -> list[Path]:
    files = [root / "compose.yml", root / STACK_FILE]
    if values.get("SWARM_ROUTING_MESH", "true").strip().lower() in {"false", "0", "no", "off"}:
        files.append(root / NO_ROUTING_MESH_FILE)
    return files


def registry_of(values: dict[str, str]) -> str:
    """SWARM_REGISTRY, checked: empty (no registry) or where images are pushed, e.g. registry.example.com/forecast."""
    registry = values.get("SWARM_REGISTRY", "").strip().rstrip("/")
    if registry and not REGISTRY.match(registry):
        raise StackError(
            f"SWARM_REGISTRY={registry!r} is not a registry address: give its host (with a dot, or a "
            "port, or localhost) and optionally a path, in lower case, as in an image name: "
            "registry.example.com/forecast or 10.0.0.5:5000 (scripts/check-env --show names the layer "
            "it is set in)"
        )
    return registry


def in_registry(registry: str, image: str) -> str:
    """The name of `image` in `registry`: its own registry host (if any) and digest (if any) dropped,
    its path and tag kept: postgres:17.6 -> REGISTRY/postgres:17.6, ghcr.io/a/b:1 -> REGISTRY/a/b:1."""
    name = image.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    return f"{registry}/{name}"


def render(env: str, root: Path = envfiles.REPO) -> Stack:
    values = envfiles.read_environment(env, root)
    compose = engine.resolved_config(env, root, files=compose_files(values, root))
    secret_values = {
        value
        for layer, layer_values in envfiles.read_layers(env, root)
        if layer.secret
        for value in layer_values.values()
    }
    return to_stack(compose, root, secret_values, registry_of(values))


def to_stack(compose: dict, root: Path, secret_values: set[str], registry: str = "") -> Stack:
    """`compose` is `docker compose config --format json` of the merged files; `secret_values` are the
    values of the secrets layer, none of which may be left anywhere in the stack file; `registry`: the
    registry every image is pushed to and pulled from (empty: each node uses its own images)."""
    name = compose["name"]
    jobs, before_jobs = one_shots(compose)
    config = without_extensions(copy.deepcopy(compose))
    config.pop("name")
    for kind in ("networks", "volumes"):
        for definition in config.get(kind, {}).values():
            definition.pop("name", None)  # the stack prefixes its own name, as compose does
    config.setdefault("configs", {})
    for key, definition in config["configs"].items():  # declared in deploy/swarm/stack.yml
        if "file" in definition:
            definition["name"] = docker_name(name, key, digest(Path(definition["file"]).read_bytes()))
    secrets: dict[str, Secret] = {}
    for service_name, service in config["services"].items():
        for key in UNSUPPORTED:
            service.pop(key, None)
        swarm_types(service_name, service)
        for secret in secrets_of(name, service):
            secrets[secret.key] = secret
        files_to_configs(name, service, root, config["configs"])
    config["secrets"] = {s.key: {"name": s.name, "external": True} for s in secrets.values()}
    for job in jobs:
        if config["services"][job].get("deploy", {}).get("mode") != "replicated-job":
            raise StackError(
                f"{job} runs once in compose.yml (others wait for service_completed_successfully) but "
                f"is not `mode: replicated-job` in {STACK_FILE}: add it there"
            )
    images = {}
    if registry:
        for service in config["services"].values():
            images[in_registry(registry, service["image"])] = service["image"]
            service["image"] = in_registry(registry, service["image"])
    config = without_nulls(config)
    leak_check(config, secret_values)
    return Stack(name, config, sorted(secrets.values(), key=lambda s: s.key), jobs, before_jobs, images)


def one_shots(compose: dict) -> tuple[list[str], list[str]]:
    """The services others wait for with service_completed_successfully, and everything those need."""
    services = converge.services_of(compose)
    jobs = sorted(name for name, service in services.items() if service.one_shot)
    return jobs, sorted(converge.needed_by(services, jobs) - set(jobs))


def secrets_of(stack: str, service: dict) -> list[Secret]:
    """Move the service's secret variables into Docker secrets, read through NAME_FILE. An empty value
    (a key not set yet, Sentry off before the bootstrap) is not a secret and stays as it is."""
    environment = service.get("environment") or {}
    found = []
    for variable in SECRET_VARIABLES:
        value = environment.get(variable)
        if not value:
            continue
        key, content_digest = variable.lower(), digest(value.encode())
        secret = Secret(f"{key}_{content_digest}", docker_name(stack, key, content_digest), value)
        del environment[variable]
        environment[f"{variable}_FILE"] = str(SECRETS_DIR / key)
        service.setdefault("secrets", []).append({"source": secret.key, "target": key})
        found.append(secret)
    return found


def files_to_configs(stack: str, service: dict, root: Path, configs: dict) -> None:
    """The bundle's own files that compose bind-mounts become Docker configs, so that a task can run
    on any node, not only where the repository is checked out."""
    kept = []
    for volume in service.get("volumes", []):
        source = Path(volume.get("source", ""))
        if volume.get("type") != "bind" or not source.is_relative_to(root):
            kept.append(volume)
            continue
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in files:
            content_digest = digest(path.read_bytes())
            key = f"{path.name}_{content_digest}"
            configs[key] = {"file": str(path), "name": docker_name(stack, path.name, content_digest)}
            target = PurePosixPath(volume["target"])
            if path != source:
                target = target / path.relative_to(source).as_posix()
            executable = path.stat().st_mode & stat.S_IXUSR
            service.setdefault("configs", []).append(
                {"source": key, "target": str(target), "mode": 0o555 if executable else 0o444}
            )
    if kept:
        service["volumes"] = kept
    else:
        service.pop("volumes", None)


def swarm_types(service_name: str, service: dict) -> None:
    """What the stack schema reads differently: numbers that compose prints as strings, one address per port."""
    for port in service.get("ports", []):
        if port.get("host_ip"):
            raise StackError(
                f"{service_name} publishes a port on {port['host_ip']} only: Swarm publishes on every "
                f"address of a node; override its ports in {STACK_FILE}"
            )
        port["published"] = int(port["published"])
    for volume in service.get("volumes", []):
        if "size" in volume.get("tmpfs", {}):
            volume["tmpfs"]["size"] = int(volume["tmpfs"]["size"])


def leak_check(config: dict, secret_values: set[str]) -> None:
    text = json.dumps(config)
    for value in secret_values:
        if len(value) >= SHORTEST_SECRET and (value in text or json.dumps(value)[1:-1] in text):
            where = [
                f"{name}.{variable}"
                for name, service in config["services"].items()
                for variable, setting in (service.get("environment") or {}).items()
                if setting and value in setting
            ]
            found = ", ".join(where) or "outside the services' environment"
            raise StackError(
                f"a value of the secrets file would be in the stack file ({found}): add its variable "
                "to SECRET_VARIABLES in scripts/swarm/swarm_stack.py"
            )


def docker_name(stack: str, stem: str, content_digest: str) -> str:
    """<stack>_<stem>_<digest>, the stem shortened to Docker's 64 characters if need be."""
    room = NAME_LIMIT - len(stack) - len(content_digest) - 2
    if room < 8:
        raise StackError(f"the stack name {stack!r} is too long for Docker's names of secrets and configs")
    return f"{stack}_{stem[:room].rstrip('._-')}_{content_digest}"


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:10]


def without_extensions(node):
    """Compose's x-* extension fields carry the anchors' interpolated values (secrets among them)."""
    if isinstance(node, dict):
        return {key: without_extensions(value) for key, value in node.items() if not str(key).startswith("x-")}
    if isinstance(node, list):
        return [without_extensions(value) for value in node]
    return node


def without_nulls(node):
    """Compose prints unset fields as null (`command: null`); the stack schema refuses them."""
    if isinstance(node, dict):
        return {key: without_nulls(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [without_nulls(value) for value in node]
    return node
