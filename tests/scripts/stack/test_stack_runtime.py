"""Where the stack runs (scripts/stack/stack_runtime.py, scripts/exec): Compose or Swarm, and the command that runs
something in one of its services. The Docker engine is the boundary here: a stand-in `docker` executable
answers as the real CLI does (its words are the real CLI's) and records how it was called (the `docker`
fixture, tests/scripts/conftest.py)."""

import json
import os

import pytest

from scripts.settings import envfiles
from scripts.stack import stack_runtime

NOT_A_MANAGER = {"service ls": [1, ""]}  # "Error response from daemon: This node is not a swarm manager."


@pytest.fixture
def development(bundle):
    return bundle.prepare("development")


def test_on_an_engine_without_the_stack_in_swarm_it_is_compose_exec(docker, development):
    docker.answer(NOT_A_MANAGER)
    line = stack_runtime.exec_command(
        "development",
        "glitchtip-web",
        ["./manage.py", "createsuperuser", "--noinput"],
        pass_env=["DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"],
        root=development.root,
    )
    assert "--project-directory" in line and str(development.secrets_file("development")) in line
    assert line[line.index("exec") :] == [
        "exec",
        "-T",
        "-e",
        "DJANGO_SUPERUSER_EMAIL",
        "-e",
        "DJANGO_SUPERUSER_PASSWORD",
        "glitchtip-web",
        "./manage.py",
        "createsuperuser",
        "--noinput",
    ]
    assert [
        "service",
        "ls",
        "--quiet",
        "--filter",
        "label=com.docker.stack.namespace=migraine-forecast-development",
    ] in docker.calls()


def test_in_a_swarm_stack_it_is_docker_exec_into_a_healthy_task_on_this_node(docker, development):
    docker.answer({"service ls": [0, "q8n5m2x1y7zt\n"], "ps --quiet": [0, "9a8b7c6d5e4f\n"]})
    line = stack_runtime.exec_command(
        "development", "app", ["python", "manage.py", "sentry_check"], root=development.root
    )
    assert line == ["docker", "exec", "-i", "9a8b7c6d5e4f", "python", "manage.py", "sentry_check"]
    assert [
        "ps",
        "--quiet",
        "--filter",
        "label=com.docker.swarm.service.name=migraine-forecast-development_app",
        "--filter",
        "status=running",
        "--filter",
        "health=healthy",
    ] in docker.calls()
    assert stack_runtime.runtime("development", development.root) == stack_runtime.SWARM


def test_in_a_swarm_stack_without_a_task_here_it_says_where_they_run(docker, development):
    tasks = "".join(
        json.dumps(
            {
                "ID": f"t{n}",
                "Name": f"migraine-forecast-development_app.{n}",
                "Node": node,
                "DesiredState": "Running",
                "CurrentState": "Running 2 minutes ago",
            }
        )
        + "\n"
        for n, node in enumerate(["node-2", "node-3", "node-2"], 1)
    )
    docker.answer({"service ls": [0, "q8n5m2x1y7zt\n"], "ps": [0, ""], "service ps": [0, tasks]})
    with pytest.raises(envfiles.EnvError) as error:
        stack_runtime.exec_command("development", "app", ["true"], root=development.root)
    assert str(error.value) == (
        "no running task of migraine-forecast-development_app on this node (running on: "
        "node-2, node-3); run this on one of those nodes, or point DOCKER_HOST at one"
    )


def test_scripts_exec_runs_the_command_in_the_service(docker, development):
    docker.answer({"service ls": [0, "q8n5m2x1y7zt\n"], "ps": [0, "9a8b7c6d5e4f\n"], "exec": [0, "ran in the task\n"]})
    result = development.run(
        "exec",
        "development",
        "app",
        "python",
        "manage.py",
        "compare_forecasts",
        "--dry-run",
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran in the task\n"
    assert docker.calls()[-1] == ["exec", "-i", "9a8b7c6d5e4f", "python", "manage.py", "compare_forecasts", "--dry-run"]


def test_scripts_exec_needs_an_environment_a_service_and_a_command(development):
    result = development.run("exec", "development", "app")
    assert result.returncode == 2 and "usage: scripts/exec" in result.stderr
