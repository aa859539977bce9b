"""The multi-node rehearsal (deploy/swarm/rehearse, scripts/swarm/rehearsal.py): where it cannot run it
refuses before making anything, and its registry serves over TLS with the CA it makes. The rehearsal
itself needs root, a Docker engine and network namespaces: it runs by hand, and its figures are in
deploy/README.md."""

import os
import shutil
import subprocess
import sys

import pytest
import requests

from scripts.swarm import local_cluster, rehearsal
from tests.harness.processes import REPO, free_port

COMMAND = REPO / "deploy" / "swarm" / "rehearse"


def rehearse(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COMMAND), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SCRIPTS_USE_SYSTEM_PYTHON": "1", **env},
    )


def test_it_refuses_to_run_without_root_and_says_how(monkeypatch, capsys):
    # Another user cannot run this machine's Python (it lives under /root): the user id is the seam.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert rehearsal.main(["rehearse"]) == 1
    err = capsys.readouterr().err
    assert "rehearse: cannot run here:" in err
    assert "it must run as root" in err and "sudo deploy/swarm/rehearse" in err
    assert rehearsal.main(["rehearse", "--teardown"]) == 1
    assert "--teardown must run as root" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0, reason="the engine is checked after root")
def test_it_refuses_when_no_engine_answers_and_makes_nothing(tmp_path):
    result = rehearse(DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the Docker engine does not answer" in result.stderr and "start it" in result.stderr
    assert "==> cluster" not in result.stdout
    assert local_cluster.network_exists() == []


def test_help_names_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.swarm.rehearsal", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--no-drills" in result.stdout and "--keep" in result.stdout and "--teardown" in result.stdout


@pytest.mark.skipif(
    not (shutil.which("docker-registry") and shutil.which("openssl")),
    reason="Debian's docker-registry and openssl are not installed (apt-get install docker-registry)",
)
def test_the_registry_serves_over_tls_with_the_ca_it_made(tmp_path):
    registry = local_cluster.Registry(f"127.0.0.1:{free_port()}", tmp_path / "registry")
    registry.make_certificates()
    registry.start()
    try:
        base = f"https://{registry.address}/v2/"
        assert requests.get(base, verify=str(registry.ca), timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):  # a client without the CA does not trust it
            requests.get(base, timeout=5)
        # The distribution registry's API: an image that was never pushed is unknown, by name.
        missing = requests.get(f"{base}migraine-forecast-app/manifests/none", verify=str(registry.ca), timeout=5)
        assert missing.status_code == 404 and missing.json()["errors"][0]["code"] in {
            "NAME_UNKNOWN",
            "MANIFEST_UNKNOWN",
        }
    finally:
        registry.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(base, verify=str(registry.ca), timeout=5)
