"""scripts/backups/on_stack.py, the host's side of a restore: what it stops. The Docker engine is the boundary:
the stand-in `docker` (tests/scripts/conftest.py) answers `compose ps --format json` with lines as Compose 2.29
prints them, and records the `compose stop`."""

import json

from scripts.backups import on_stack
from scripts.stack import engine


def ps_line(service: str, state: str) -> str:
    """One line of `docker compose ps --format json` (Compose 2.29), the fields it always has."""
    running = state == "running"
    return (
        json.dumps(
            {
                "ID": f"{abs(hash(service)) % 16**12:012x}",
                "Service": service,
                "Image": f"img-{service}",
                "Name": f"migraine-forecast-development-{service}-1",
                "State": state,
                "Health": "",
                "ExitCode": 0,
                "Project": "migraine-forecast-development",
                "Status": "Up 1 minute" if running else "Exited (0) 1 minute ago",
            }
        )
        + "\n"
    )


def stop_writers(docker, *lines: str) -> tuple[str, list[list[str]]]:
    docker.answer({"compose version": [0, ""]})  # the plugin: `docker compose`
    compose = " ".join(engine.command("development")[1:])  # its options, as Stack's calls start
    docker.answer(
        {"compose version": [0, ""], f"{compose} ps --format json": [0, "".join(lines)], f"{compose} stop": [0, ""]}
    )
    said = on_stack.Stack("development").stop_writers()
    return said, [call[call.index("stop") :] for call in docker.calls() if "stop" in call]


def test_a_restore_stops_only_the_writers_that_run_and_says_which(docker):
    said, stops = stop_writers(
        docker,
        ps_line("postgres", "running"),
        ps_line("app", "running"),
        ps_line("scheduler", "exited"),
        ps_line("glitchtip-web", "running"),
    )
    assert said == "stopped app, glitchtip-web"
    assert stops == [["stop", "app", "glitchtip-web"]]


def test_on_an_empty_target_it_says_nothing_was_running(docker):
    said, stops = stop_writers(docker, ps_line("postgres", "running"))
    assert said == "nothing was running" and stops == []
