"""scripts/stack/converge.py: what a redeploy starts, runs, recreates and rolls, decided from what the engine
says of each container (docker inspect: state, health, exit code, the config-hash and image labels) against
the configuration's hashes (config --hash) and the images' IDs. The states are recorded from the development
stack on a real engine (engine 20.10.24, Compose 2.29.7; engine_samples.json, each container trimmed to the
fields read); a state that is another minus some containers (a prune, a restore's lone database) is made by
leaving those out. The same states against a real engine: test_converge_engine.py."""
import json
from pathlib import Path

import pytest

from scripts.stack import converge, engine

SAMPLES = json.loads(Path(__file__).with_name("engine_samples.json").read_text())
SERVICES = converge.services_of({"services": SAMPLES["services"]})
LONG_RUNNING = ["app", "glitchtip-web", "glitchtip-worker", "mailpit", "nginx", "postgres", "redis", "scheduler"]
ONE_SHOTS = ["app-migrate", "glitchtip-migrate"]


def recorded(state: str, without: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> tuple[list, dict, dict]:
    sample = SAMPLES[state]
    containers = [engine.container_of(found) for found in sample["containers"]]
    kept = [c for c in containers if c.service not in without and (not only or c.service in only)]
    return kept, sample["hashes"], sample["images"]


def decide(state: str, **leaving_out) -> converge.Plan:
    return converge.plan(SERVICES, *recorded(state, **leaving_out))


def test_the_migrations_are_the_one_shots():
    assert sorted(name for name, service in SERVICES.items() if service.one_shot) == ONE_SHOTS
    assert "postgres" in SERVICES["app-migrate"].needs


def test_the_samples_are_what_compose_labels_and_inspect_report():
    containers, hashes, images = recorded("a healthy stack")
    assert sorted(c.service for c in containers) == sorted(LONG_RUNNING + ONE_SHOTS)
    assert all(c.config_hash == hashes[c.service] and c.image == images[SERVICES[c.service].image]
               for c in containers)


def test_an_unchanged_stack_is_left_alone():
    assert decide("a healthy stack").empty


def test_a_stopped_stack_starts_its_services_and_runs_no_migration():
    plan = decide("a stopped stack (scripts/compose ENV stop)")
    assert sorted(plan.others) == LONG_RUNNING and not plan.one_shots and not plan.roll
    assert set(plan.reasons.values()) == {"exited"}


def test_after_a_prune_the_migrations_run_and_nothing_else_moves():
    plan = decide("a healthy stack", without=tuple(ONE_SHOTS))
    assert sorted(plan.one_shots) == ONE_SHOTS and plan.reasons["app-migrate"] == "never ran"
    assert not (plan.needs or plan.others or plan.roll or plan.leftovers)


def test_with_only_the_database_as_a_restore_leaves_it_what_the_migrations_need_comes_first():
    plan = decide("a healthy stack", only=("postgres",))
    assert plan.needs == ["redis"] and sorted(plan.one_shots) == ONE_SHOTS
    assert sorted(plan.others) == sorted(set(LONG_RUNNING) - {"postgres", "redis"})


def test_a_new_project_is_started_whole():
    plan = decide("a healthy stack", only=("none",))
    assert sorted(plan.needs) == ["postgres", "redis"] and sorted(plan.one_shots) == ONE_SHOTS
    assert set(plan.reasons.values()) == {"not created yet", "never ran"}


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_a_missing_service_is_created_alone(service):
    plan = decide("a healthy stack", without=(service,))
    assert plan.reasons == {service: "not created yet"}
    assert plan.others == [service]


def test_only_the_app_is_rolled_the_scheduler_never_runs_twice():
    assert converge.ROLLING == ("app",)
