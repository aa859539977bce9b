"""scripts/stack/converge.py: what a redeploy starts, runs and recreates, decided from the resolved
configuration, `ps --all` and `up --dry-run` (their output as Compose 2.29 prints it), no engine needed."""
import json

import pytest

from scripts.stack import converge

PROJECT = "mf-ops"
LONG_RUNNING = ["app", "glitchtip-web", "glitchtip-worker", "mailpit", "nginx", "postgres", "redis", "scheduler"]
ONE_SHOTS = ["app-migrate", "glitchtip-migrate"]


def ps_line(service: str, state: str = "running", health: str = "healthy", exit_code: int = 0) -> str:
    """One line of `docker compose ps --all --format json` (the fields converge reads, and a few more)."""
    return json.dumps({"ID": f"{abs(hash(service)) % 16**12:012x}", "Name": f"{PROJECT}-{service}-1",
                       "Service": service, "State": state, "Health": health, "ExitCode": exit_code, "Project": PROJECT,
                       "Status": "Up 5 minutes (healthy)" if state == "running" else f"Exited ({exit_code})"})


def running_stack(**overrides: dict) -> str:
    lines = [ps_line(name, **overrides.get(name, {})) for name in LONG_RUNNING]
    lines += [ps_line(name, "exited", "", **overrides.get(name, {})) for name in ONE_SHOTS]
    return "\n".join(lines) + "\n"


def dry_run(*recreated: str) -> str:
    """`up --dry-run --detach` on a running stack: the lines that matter among the progress lines."""
    lines = [f" DRY-RUN MODE -  Container {PROJECT}-{name}-1  Running" for name in LONG_RUNNING]
    lines += [f" DRY-RUN MODE -  Container {PROJECT}-{name}-1  Recreate" for name in recreated]
    lines += [f" DRY-RUN MODE -  Container {PROJECT}-{name}-1  Recreated" for name in recreated]
    lines += [f" DRY-RUN MODE -  Container {PROJECT}-{name}-1  Started" for name in ONE_SHOTS]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def compose_services(tmp_path_factory):
    from tests.harness.bundle import Bundle

    bundle = Bundle(tmp_path_factory.mktemp("converge") / "bundle").prepare("development")
    return converge.services_of(bundle.config("development"))


def decide(services, ps: str, dry: str) -> converge.Plan:
    containers = converge.containers_of(ps)
    return converge.plan(services, containers, converge.recreated_by_compose(dry, containers))


def test_the_migrations_are_the_one_shots(compose_services):
    assert sorted(name for name, service in compose_services.items() if service.one_shot) == ONE_SHOTS
    assert "postgres" in compose_services["app-migrate"].needs


def test_an_unchanged_stack_is_left_alone(compose_services):
    assert decide(compose_services, running_stack(), dry_run()).empty


def test_an_empty_project_is_started_whole(compose_services):
    assert decide(compose_services, "", "").fresh


def test_a_new_dsn_recreates_app_and_scheduler_only_and_runs_no_migration(compose_services):
    plan = decide(compose_services, running_stack(), dry_run("app", "scheduler"))
    assert (plan.prepare, plan.run_once, sorted(plan.converge)) == ([], [], ["app", "scheduler"])
    assert plan.reasons["app"] == converge.CHANGED


def test_a_new_app_image_runs_the_app_migrations_first(compose_services):
    plan = decide(compose_services, running_stack(), dry_run("app", "app-migrate", "scheduler"))
    assert (plan.run_once, sorted(plan.converge)) == (["app-migrate"], ["app", "scheduler"])
    assert "glitchtip-migrate" not in plan.run_once and "nginx" not in plan.converge


def test_a_failed_migration_runs_again_and_a_stopped_service_is_started(compose_services):
    ps = running_stack(**{"glitchtip-migrate": {"exit_code": 1}, "nginx": {"state": "exited", "health": ""}})
    plan = decide(compose_services, ps, dry_run())
    assert plan.run_once == ["glitchtip-migrate"] and plan.converge == ["nginx"]
    assert plan.reasons == {"glitchtip-migrate": "last run exited, exit 1", "nginx": "exited"}


def test_a_new_postgres_is_started_before_the_migrations_that_need_it(compose_services):
    plan = decide(compose_services, running_stack(), dry_run("postgres", "app", "app-migrate", "scheduler"))
    assert plan.prepare == ["postgres"] and plan.run_once == ["app-migrate"]
    assert sorted(plan.converge) == ["app", "scheduler"]


def test_an_unhealthy_service_is_named(compose_services):
    plan = decide(compose_services, running_stack(**{"glitchtip-worker": {"health": "unhealthy"}}), dry_run())
    assert plan.converge == ["glitchtip-worker"] and plan.reasons["glitchtip-worker"] == "unhealthy"


def test_only_the_app_is_rolled_the_scheduler_never_runs_twice():
    assert converge.ROLLING == ("app",)
