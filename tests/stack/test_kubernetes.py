"""The example Kubernetes manifests (deploy/kubernetes/): valid against the Kubernetes API's own schemas
(kubernetes-validate, offline, strict: an unknown field fails), and saying what the Compose and Swarm
stacks say. No cluster runs them here; see deploy/README.md."""

import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from tests.harness.processes import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
VERSION = "1.37.0"
MANIFESTS = sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "glitchtip-values.yaml")


def documents() -> dict[str, dict]:
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc
        for path in MANIFESTS
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_for_the_kubernetes_api(path):
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, VERSION, strict=True)


def test_the_validator_refuses_what_the_api_would(tmp_path):
    web = documents()["Deployment/app-web"]
    web["spec"]["strategy"]["rollingUpdate"]["maxUnavilable"] = 0  # a typo the API server would reject
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, VERSION, strict=True)


def pod(document: dict) -> dict:
    return document["spec"]["template"]["spec"]


def test_web_rolls_out_without_losing_a_pod_and_the_scheduler_never_runs_twice():
    docs = documents()
    web, scheduler, job = docs["Deployment/app-web"], docs["Deployment/app-scheduler"], docs["Job/app-migrate"]
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert scheduler["spec"]["replicas"] == 1 and scheduler["spec"]["strategy"]["type"] == "Recreate"
    assert pod(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    containers = {
        name: pod(docs[name])["containers"][0]
        for name in docs
        if "spec" in docs[name] and "template" in docs[name]["spec"]
    }
    assert {name: c["args"] for name, c in containers.items()} == {
        "Deployment/app-web": ["start-web"],
        "Deployment/app-scheduler": ["start-scheduler"],
        "Job/app-migrate": ["migrate"],
    }  # the image's roles (app/bin/)


def test_secrets_are_files_named_by_name_file_never_values_in_the_environment():
    docs = documents()
    secret_keys = set(docs["Secret/app-secrets"]["stringData"])
    for name in ("Deployment/app-web", "Deployment/app-scheduler", "Job/app-migrate"):
        spec = pod(docs[name])
        container = spec["containers"][0]
        assert {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True} in container["volumeMounts"]
        volume = next(v for v in spec["volumes"] if v["name"] == "secrets")
        assert volume["secret"]["secretName"] == "app-secrets"
        mounted = {item["path"] for item in volume["secret"].get("items", [])} or secret_keys
        for variable in container["env"]:
            assert set(variable) == {"name", "value"}, name  # no secretKeyRef: nothing secret in the environment
            assert variable["name"].endswith("_FILE")
            file = variable["value"].removeprefix("/run/secrets/")
            assert file == variable["name"].removesuffix("_FILE").lower() and file in mounted, variable


def test_the_settings_configmap_comes_from_the_env_layers_without_the_secrets(bundle):
    bundle.prepare("production")
    result = subprocess.run(
        [sys.executable, "-P", "-m", "scripts.settings.envfiles", "production"],
        cwd=bundle.root,
        capture_output=True,
        text=True,
        env={**bundle.environ(), "PYTHONPATH": str(bundle.root)},
    )
    assert result.returncode == 0, result.stderr
    settings = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert settings["APP_ENV"] == "production" and settings["DJANGO_DEBUG"] == "false"
    assert settings["SENTRY_TRACES_SAMPLE_RATE"] == "0.1"
    secrets = bundle.values(bundle.secrets_file("production"))
    assert not set(settings) & set(secrets)
    assert not any("'" in value or '"' in value for value in settings.values())  # kubectl would keep quotes


def test_glitchtip_values_follow_the_compose_services():
    values = yaml.safe_load((KUBERNETES / "glitchtip-values.yaml").read_text())
    compose = yaml.safe_load((REPO / "glitchtip" / "compose.yml").read_text())
    assert f"{values['image']['repository']}:{values['image']['tag']}" == compose["x-glitchtip"]["image"]
    migrate = compose["services"]["glitchtip-migrate"]["command"]
    assert values["migrationJob"]["command"] == [migrate[0].removeprefix("./")]
    assert values["web"]["replicaCount"] == 2 and values["worker"]["replicaCount"] == 1
    assert values["postgresql"]["enabled"] is False and values["valkey"]["enabled"] is False
    assert {m["mountPath"] for m in values["extraVolumeMounts"]} == {"/code/uploads"}
    settings = {v["name"] for v in values["extraEnvVars"]}
    assert set(compose["x-glitchtip-environment"]) - settings == {
        "DATABASE_URL",
        "VALKEY_URL",
        "SECRET_KEY",
        "GLITCHTIP_DOMAIN",
    }  # the chart's own keys
