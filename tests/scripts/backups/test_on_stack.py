"""scripts/backups/on_stack.py, the host's side of a restore: what it stops. The Docker engine is the boundary
here: a stand-in `docker` executable answers as the real CLI does (`compose ps --format json` lines as Compose
2.29 prints them) and records how it was called."""
import json
import sys

import pytest

from scripts.backups import on_stack

FAKE_DOCKER = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["compose", "version"]:
    sys.exit(0)
if args[0] == "compose" and args[-3:] == ["ps", "--format", "json"]:
    sys.stdout.write(os.environ["FAKE_COMPOSE_PS"])
    sys.exit(0)
sys.exit(0 if args[0] == "compose" and "stop" in args else 1)
"""


def ps_line(service: str, state: str) -> str:
    """One line of `docker compose ps --format json` (Compose 2.29), the fields it always has."""
    running = state == "running"
    return json.dumps({"ID": f"{abs(hash(service)) % 16**12:012x}", "Service": service, "Image": f"img-{service}",
                       "Name": f"migraine-forecast-development-{service}-1", "State": state, "Health": "",
                       "ExitCode": 0, "Project": "migraine-forecast-development",
                       "Status": "Up 1 minute" if running else "Exited (0) 1 minute ago"}) + "\n"


@pytest.fixture
def docker(tmp_path, monkeypatch):
    binary = tmp_path / "bin" / "docker"
    binary.parent.mkdir()
    binary.write_text(FAKE_DOCKER.format(python=sys.executable))
    binary.chmod(0o755)
    log = tmp_path / "docker.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{binary.parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))

    def stack(*lines: str) -> tuple[str, list[list[str]]]:
        monkeypatch.setenv("FAKE_COMPOSE_PS", "".join(lines))
        said = on_stack.Stack("development").stop_writers()
        return said, [args[args.index("stop"):] for args in map(json.loads, log.read_text().splitlines())
                      if args[0] == "compose" and "stop" in args]

    return stack


def test_a_restore_stops_only_the_writers_that_run_and_says_which(docker):
    said, stops = docker(ps_line("postgres", "running"), ps_line("app", "running"), ps_line("scheduler", "exited"),
                         ps_line("glitchtip-web", "running"))
    assert said == "stopped app, glitchtip-web"
    assert stops == [["stop", "app", "glitchtip-web"]]


def test_on_an_empty_target_it_says_nothing_was_running(docker):
    said, stops = docker(ps_line("postgres", "running"))
    assert said == "nothing was running" and stops == []
