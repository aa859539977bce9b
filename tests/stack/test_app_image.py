"""The app image's entrypoint, role scripts and healthchecks, run natively; the Dockerfile's shape; the Postgres
init script."""

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.harness.app import manage
from tests.harness.processes import REPO, free_port, stop, wait_for_port
from tests.harness.services import APP_DB_PASSWORD

BIN = REPO / "app" / "bin"


@pytest.fixture
def fresh_database(services):
    """An empty database owned by the app role, as on the first deploy."""
    name = f"deploy_{secrets.token_hex(4)}"
    services.postgres.psql(f"CREATE DATABASE {name} OWNER app")
    yield services.postgres.url("app", APP_DB_PASSWORD, name)
    services.postgres.psql(f"DROP DATABASE {name} WITH (FORCE)")


def image_env(**env) -> dict[str, str]:
    """The test's environment with this Python first on PATH, as /opt/venv/bin is in the image."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env}


def run_role(*command, env):
    return subprocess.run(
        [str(BIN / "entrypoint"), *command], env=image_env(**env), capture_output=True, text=True, timeout=120
    )


def test_migrate_then_web_as_in_a_deploy(fresh_database, services, tmp_path):
    services.start("redis")  # /readyz checks the cache too
    env = {"DATABASE_URL": fresh_database, "SENTRY_RELEASE": "migraine-forecast@abc1234"}
    migrated = run_role(str(BIN / "migrate"), env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrate: done" in migrated.stdout
    again = run_role(str(BIN / "migrate"), env=env)
    assert "No migrations to apply." in again.stdout

    port = free_port()
    log = open(tmp_path / "web.log", "w")
    web = subprocess.Popen(
        [str(BIN / "entrypoint"), str(BIN / "start-web")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=image_env(**env, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2"),
    )
    try:
        wait_for_port(port, web, what="start-web")
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()["status"] == "ready"
    finally:
        stop(web)
    output = (tmp_path / "web.log").read_text()
    assert "Using worker: gthread" in output and output.count("Booting worker") == 2
    # Migrations ran once, in the one-shot step, never in the workers.
    assert "Applying" not in output


# The image's app user (app/Dockerfile): uid 10001, its home /app owned by root.
APP_UID = 10001


def as_the_app_user(argv: list[str], home: Path) -> list[str]:
    """`argv` run as an unprivileged user whose home it cannot write, as in the image. As root the
    command gets the image's uid and keeps only the capability to read and search any directory:
    the test's Python may live where that uid cannot look (/root/.pyenv); writing stays refused."""
    home.chmod(0o555)
    if os.geteuid() != 0:
        return argv
    return [
        "setpriv",
        f"--reuid={APP_UID}",
        f"--regid={APP_UID}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
        "--",
        *argv,
    ]


def test_start_web_as_the_app_user_with_a_read_only_home_logs_no_error(fresh_database, services, tmp_path):
    """gunicorn 27's control socket defaulted to $HOME/.gunicorn/: in the image that is /app, owned by
    root, and every start logged an ERROR that reached GlitchTip as an issue and an alert e-mail."""
    services.start("redis")
    home = Path(tempfile.mkdtemp(prefix="app-home-"))
    port = free_port()
    env = image_env(
        DATABASE_URL=fresh_database,
        HOME=str(home),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        SENTRY_DSN=services.sentry.dsn(7),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("XDG_RUNTIME_DIR", None)  # the image has none: gunicorn's other default place
    with open(tmp_path / "web.log", "w") as log:
        web = subprocess.Popen(
            as_the_app_user([str(BIN / "entrypoint"), str(BIN / "start-web")], home),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for_port(port, web, what="start-web")
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()["status"] == "ready"
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).text == "ok"
        time.sleep(2)  # the master started its control server (gunicorn 27) just after the workers
    finally:
        stop(web)
        home.chmod(0o755)
        home.rmdir()
    output = (tmp_path / "web.log").read_text()
    assert output.count("Booting worker") == 2, output
    assert [line for line in output.splitlines() if "[ERROR]" in line or " ERROR " in line] == []
    assert services.sentry.events(project="7") == []  # the master's Sentry client flushes as it exits


def test_the_entrypoint_refuses_a_bad_configuration_before_starting_anything():
    result = run_role("echo", "started", env={"SENTRY_TRACES_SAMPLE_RATE": "2"})
    assert result.returncode != 0
    assert "SENTRY_TRACES_SAMPLE_RATE" in result.stderr and "started" not in result.stdout


def test_role_scripts_use_strict_bash():
    for script in BIN.iterdir():
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash"), script.name
        assert "set -o errexit -o pipefail -o nounset" in text, script.name
        assert os.access(script, os.X_OK), script.name


def test_dockerfile_is_multi_stage_pinned_non_root_and_bakes_the_release():
    text = (REPO / "app" / "Dockerfile").read_text()
    bases = re.findall(r"(?m)^FROM (\S+)", text)
    assert len(bases) == 2, "a build stage and a runtime stage"
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim", text)
    assert re.search(r"(?m)^USER app$", text)
    assert re.search(r"(?m)^ARG SENTRY_RELEASE", text) and "SENTRY_RELEASE=${SENTRY_RELEASE}" in text
    assert "collectstatic" in text and "migrate" not in text.split("ENTRYPOINT")[0]
    assert re.search(r'(?m)^CMD \["start-web"\]', text)
    assert "pip install --require-hashes --no-deps --requirement /tmp/requirements.txt" in text


def test_the_lock_files_pin_and_hash_every_package():
    """The image, the scripts' .venv and the tests install from locks that leave nothing to chance."""
    app = requirements(REPO / "app" / "requirements.txt")
    for lock in ("app", "scripts", "tests"):
        packages = requirements(REPO / lock / "requirements.txt")
        assert packages, lock
        for name, (version, hashes) in packages.items():
            assert version and hashes, f"{lock}/requirements.txt: {name} is not pinned with hashes"
            if name in app:
                assert version == app[name][0], f"{lock}/requirements.txt: {name} differs from the app's"
    # brotli is declared (whitenoise[brotli]) and locked, not an accident of another package.
    assert "brotli" in app and "whitenoise[brotli]" in (REPO / "app" / "requirements.in").read_text()


def requirements(lock: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, hashes) from a `uv pip compile --generate-hashes` lock."""
    packages: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=[a-z0-9])", lock.read_text(), flags=re.IGNORECASE):
        match = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", entry)
        if match:
            packages[match.group(1).lower()] = (match.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
    return packages


def test_the_app_role_cannot_open_glitchtips_database(services):
    glitchtip_database = services.postgres.url("app", APP_DB_PASSWORD, "glitchtip")
    result = subprocess.run(
        [f"{services.postgres.bindir}/psql", glitchtip_database, "-c", "SELECT 1"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "permission denied for database" in result.stderr


def test_the_scheduler_healthcheck_follows_its_liveness_file(tmp_path):
    """`manage.py scheduler --check` (the Kubernetes liveness probe) reads the file compose.yml's check reads;
    here it runs natively."""
    alive = tmp_path / "alive"
    env = {"SCHEDULER_HEARTBEAT_FILE": str(alive)}
    missing = manage("scheduler", "--check", env=env)
    assert missing.returncode == 1 and "the scheduler is not running" in missing.stderr
    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "scheduler"],
        cwd=REPO / "app",
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not alive.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        running = manage("scheduler", "--check", env=env)
        assert running.returncode == 0 and "scheduler alive" in running.stdout, running.stderr
    finally:
        stop(scheduler)
    stale = time.time() - 91  # three missed 30 s touches
    os.utime(alive, (stale, stale))
    stuck = manage("scheduler", "--check", env=env)
    assert stuck.returncode == 1 and "the scheduler is stuck" in stuck.stderr
