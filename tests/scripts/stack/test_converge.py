"""scripts/stack/converge.py: what a redeploy starts, runs, recreates and rolls, decided from what the engine
says of each container (docker inspect: state, health, exit code, the config-hash and image labels) against
the configuration's hashes (config --hash) and the images' IDs. The states are recorded from the development
stack on a real engine (engine 20.10.24, Compose 2.29.7; engine_samples.json, each container trimmed to the
fields read, with the configuration's hashes, images and dependencies at that moment); a state that is
another minus some containers (a restore's lone database, a missing service) is made by leaving those out.
The same states against a real engine: test_converge_engine.py."""

import json
from pathlib import Path

import pytest

from scripts.stack import converge, engine

SAMPLES = json.loads(Path(__file__).with_name("engine_samples.json").read_text())
HEALTHY = "a healthy stack"
LONG_RUNNING = ["app", "glitchtip-web", "glitchtip-worker", "mailpit", "nginx", "postgres", "redis", "scheduler"]
ONE_SHOTS = ["app-migrate", "glitchtip-migrate"]


def services(state: str = HEALTHY) -> dict[str, converge.Service]:
    return converge.services_of({"services": SAMPLES[state]["services"]})


def recorded(state: str, without: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> tuple[list, dict, dict]:
    sample = SAMPLES[state]
    containers = [engine.container_of(found) for found in sample["containers"]]
    kept = [c for c in containers if c.service not in without and (not only or c.service in only)]
    return kept, sample["hashes"], sample["images"]


def decide(state: str, **leaving_out) -> converge.Plan:
    return converge.plan(services(state), *recorded(state, **leaving_out))


def test_the_migrations_are_the_one_shots():
    assert sorted(name for name, service in services().items() if service.one_shot) == ONE_SHOTS
    assert "postgres" in services()["app-migrate"].needs


def test_the_samples_are_what_compose_labels_and_inspect_report():
    containers, hashes, images = recorded(HEALTHY)
    assert sorted(c.service for c in containers) == sorted(LONG_RUNNING + ONE_SHOTS)
    assert all(
        c.config_hash == hashes[c.service] and c.image == images[services()[c.service].image] for c in containers
    )


def test_an_unchanged_stack_is_left_alone():
    assert decide(HEALTHY).empty


def test_a_new_commit_runs_the_app_migrations_rolls_the_app_and_leaves_nginx_and_glitchtip():
    plan = decide("a new commit: its app image built, nothing recreated yet")
    assert (plan.needs, plan.one_shots, plan.others, plan.roll) == ([], ["app-migrate"], ["scheduler"], ["app"])
    assert set(plan.reasons.values()) == {converge.CHANGED}


def test_a_new_dsn_rolls_the_app_recreates_the_scheduler_and_runs_no_migration():
    plan = decide("a setting only app and scheduler read changed (as a new DSN)")
    assert (plan.one_shots, plan.others, plan.roll) == ([], ["scheduler"], ["app"])


def test_the_old_app_left_by_an_interrupted_roll_goes():
    state = "a roll interrupted after the new app became healthy"
    plan = decide(state)
    apps = [c for c in recorded(state)[0] if c.service == "app"]
    outdated = [c.id for c in apps if c.config_hash != SAMPLES[state]["hashes"]["app"]]
    assert len(apps) == 2 and len(outdated) == 1
    assert plan.leftovers == outdated and "app" not in plan.reasons


def test_a_stopped_stack_starts_its_services_and_runs_no_migration():
    plan = decide("a stopped stack (scripts/compose ENV stop)")
    assert sorted(plan.others) == LONG_RUNNING and not plan.one_shots and not plan.roll
    assert set(plan.reasons.values()) == {"exited"}


def test_after_a_prune_the_migrations_run_and_nothing_else_moves():
    plan = decide("docker container prune on a healthy stack")
    assert sorted(plan.one_shots) == ONE_SHOTS and plan.reasons["app-migrate"] == "never ran"
    assert not (plan.needs or plan.others or plan.roll or plan.leftovers)


def test_with_only_the_database_as_a_restore_leaves_it_what_the_migrations_need_comes_first():
    plan = decide(HEALTHY, only=("postgres",))
    assert plan.needs == ["redis"] and sorted(plan.one_shots) == ONE_SHOTS
    assert sorted(plan.others) == sorted(set(LONG_RUNNING) - {"postgres", "redis"})


def test_a_new_project_is_started_whole():
    plan = decide(HEALTHY, only=("none",))
    assert sorted(plan.needs) == ["postgres", "redis"] and sorted(plan.one_shots) == ONE_SHOTS
    assert set(plan.reasons.values()) == {"not created yet", "never ran"}


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_a_missing_service_is_created_alone(service):
    plan = decide(HEALTHY, without=(service,))
    assert plan.reasons == {service: "not created yet"}
    assert plan.others == [service]


def test_only_the_app_is_rolled_the_scheduler_never_runs_twice():
    assert converge.ROLLING == ("app",)
