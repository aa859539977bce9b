"""scripts/stack/converge.py against a real Docker engine with the real Compose CLI, on a project of the
bundle's shape (a database, a one-shot migration that needs it, a web service and a worker that wait for
the migration). The states in which the old `up --dry-run` hung or failed (issue 16: a restore on a new
machine, `down --volumes` and a restore, `docker container prune` on a healthy stack; a stopped stack)
now converge. Skipped, with the reason, where no engine answers (CI) or the images are missing."""

import threading
import time

import pytest

from scripts.stack import converge, engine

# The images the bundle itself runs (compose.yml); on the lab engine these are its stand-ins.
DATABASE_IMAGE = "valkey/valkey:8.1.10"
PYTHON_IMAGE = "python:3.12.11-slim-bookworm"
COMPOSE = f"""
name: PROJECT
services:
  db:
    image: {DATABASE_IMAGE}
    healthcheck: {{test: ["CMD", "valkey-cli", "ping"], interval: 1s, retries: 60}}
  migrate:
    image: {PYTHON_IMAGE}
    command: ["python3", "-c", "import os, sys; sys.exit(int(os.environ['FAIL']))"]
    environment: {{FAIL: "${{FAIL:-0}}"}}
    depends_on: {{db: {{condition: service_healthy}}}}
  app:
    image: {PYTHON_IMAGE}
    command: ["python3", "-m", "http.server", "8000"]
    environment: {{RELEASE: "${{RELEASE}}"}}
    init: true
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
      interval: 1s
      retries: 60
    depends_on:
      migrate: {{condition: service_completed_successfully}}
      db: {{condition: service_healthy}}
  worker:
    image: {PYTHON_IMAGE}
    command: ["python3", "-c", "import time; time.sleep(10**9)"]
    init: true
    healthcheck:
      test: ["CMD", "python3", "-c", "import os, sys; sys.exit(os.path.exists('/tmp/sick'))"]
      interval: 1s
      retries: 1
    depends_on: {{migrate: {{condition: service_completed_successfully}}}}
"""
ENV = "development"


def engine_missing() -> str:
    if engine.engine_api() is None:
        return "no Docker engine answers here (docker version)"
    missing = {DATABASE_IMAGE, PYTHON_IMAGE} - set(engine.image_ids(DATABASE_IMAGE, PYTHON_IMAGE))
    return f"images not on this engine: {', '.join(sorted(missing))}" if missing else ""


pytestmark = pytest.mark.skipif(bool(engine_missing()), reason=engine_missing() or "engine ready")


class Project:
    def __init__(self, root):
        self.root = root
        (root / "env").mkdir(parents=True)
        self.name = f"convergetest{abs(hash(str(root))) % 10**8}"
        (root / "compose.yml").write_text(COMPOSE.replace("PROJECT", self.name))
        self.set(RELEASE="one", FAIL="0")

    def set(self, **values: str) -> None:
        """The project's settings, in the env-file layer engine.command passes (env/defaults.env)."""
        (self.root / "env" / "defaults.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    def compose(self, *args: str) -> None:
        engine.compose(ENV, *args, timeout=180, root=self.root, check=True)

    def converge(self) -> None:
        converge.Converge(ENV, timeout=120, root=self.root).run()

    def containers(self, service: str = "") -> list[engine.Container]:
        return engine.containers(ENV, *([service] if service else []), root=self.root)

    def started(self) -> dict[str, str]:
        """Container id -> when it last started: a container that was left alone keeps both."""
        ids = [c.id for c in self.containers()]
        return {found["Id"]: found["State"]["StartedAt"] for found in engine.inspect(*ids)}

    def assert_converged(self) -> None:
        """Every service runs (or, the one-shot, ran) its current configuration, one container each."""
        assert converge.Converge(ENV, timeout=120, root=self.root).read().empty
        by_service = {c.service: c for c in self.containers()}
        assert len(by_service) == len(self.containers()) == 4
        assert by_service["migrate"].state == "exited" and by_service["migrate"].exit_code == 0
        assert {by_service[name].state for name in ("db", "app", "worker")} == {"running"}
        assert by_service["app"].health == "healthy"


@pytest.fixture
def project(tmp_path):
    project = Project(tmp_path / "project")
    yield project
    engine.compose(ENV, "down", "--volumes", "--timeout", "1", timeout=180, root=project.root)


def test_a_new_project_is_started_whole(project):
    project.converge()
    project.assert_converged()


@pytest.mark.parametrize("before", ["", "down --volumes"])
def test_with_only_the_database_running_as_a_restore_leaves_it(project, before):
    """A restore on a new machine (or after `down --volumes`) starts the database alone and fills it."""
    if before:
        project.converge()
        project.compose(*before.split())
    project.compose("up", "--detach", "--wait", "db")
    project.converge()
    project.assert_converged()


def test_after_docker_container_prune_on_a_healthy_stack(project):
    project.converge()
    running = {c.id for c in project.containers() if c.state == "running"}
    engine.docker(
        "container", "prune", "--force", "--filter", f"label=com.docker.compose.project={project.name}", check=True
    )
    assert not project.containers("migrate")
    project.converge()
    project.assert_converged()
    assert {c.id for c in project.containers() if c.state == "running"} == running


def test_a_stopped_stack_is_started_again_without_a_migration(project):
    project.converge()
    migration = project.containers("migrate")[0]
    started = project.started()[migration.id]
    project.compose("stop")
    project.converge()
    project.assert_converged()
    assert project.started()[migration.id] == started


def test_an_unchanged_stack_is_left_alone(project):
    project.converge()
    before = project.started()
    project.converge()
    assert project.started() == before


def test_a_new_app_setting_rolls_the_app_alone_and_a_healthy_app_serves_throughout(project):
    project.converge()
    before = project.started()
    old_app = project.containers("app")[0].id
    project.set(RELEASE="two", FAIL="0")
    healthy_apps: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            found = engine.docker(
                "ps",
                "--quiet",
                "--filter",
                f"label=com.docker.compose.project={project.name}",
                "--filter",
                "label=com.docker.compose.service=app",
                "--filter",
                "health=healthy",
            )
            healthy_apps.append(len(found.stdout.split()))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        project.converge()
    finally:
        done.set()
        watcher.join()
    project.assert_converged()
    assert healthy_apps and min(healthy_apps) >= 1
    after = project.started()
    assert old_app not in after
    assert {cid: at for cid, at in after.items() if cid in before} == {
        cid: at for cid, at in before.items() if cid != old_app
    }  # the database, migration and worker untouched


def test_a_failed_migration_stops_the_rollout_and_runs_again_next_time(project):
    project.converge()
    app = project.containers("app")[0].id
    project.set(RELEASE="two", FAIL="3")
    with pytest.raises(converge.Failed, match="migrate exited, exit 3"):
        project.converge()
    assert [c.id for c in project.containers("app") if c.state == "running"] == [app]  # the old app serves on
    project.set(RELEASE="two", FAIL="0")
    project.converge()
    project.assert_converged()


def test_an_unhealthy_service_is_recreated(project):
    project.converge()
    worker = project.containers("worker")[0].id
    engine.docker("exec", worker, "touch", "/tmp/sick", check=True)
    deadline = time.monotonic() + 60
    while project.containers("worker")[0].health != "unhealthy" and time.monotonic() < deadline:
        time.sleep(0.5)
    project.converge()
    project.assert_converged()
    assert project.containers("worker")[0].id != worker and project.containers("worker")[0].health == "healthy"
