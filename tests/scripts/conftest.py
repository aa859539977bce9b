"""Shared by the tests of scripts/: the Docker engine as a boundary. A stand-in `docker` executable first on
PATH answers as the real CLI does (each test gives it the real CLI's words: answers by the start of the
command line) and records how it was called."""

import json
import sys

import pytest

FAKE_DOCKER = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
for prefix, (code, out) in json.loads(os.environ["FAKE_DOCKER_ANSWERS"]).items():
    if " ".join(args).startswith(prefix):
        sys.stdout.write(out)
        sys.exit(code)
sys.stderr.write("docker: unexpected call\\n")
sys.exit(1)
"""


@pytest.fixture
def docker(tmp_path, monkeypatch):
    """Install the stand-in `docker` first on PATH; returns a function that sets its answers and a log reader."""
    binary = tmp_path / "bin" / "docker"
    binary.parent.mkdir()
    binary.write_text(FAKE_DOCKER.format(python=sys.executable))
    binary.chmod(0o755)
    log = tmp_path / "docker.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{binary.parent}:{sys.executable.rsplit('/', 1)[0]}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))

    class Docker:
        @staticmethod
        def answer(answers: dict) -> None:
            monkeypatch.setenv("FAKE_DOCKER_ANSWERS", json.dumps(answers))

        @staticmethod
        def calls() -> list[list[str]]:
            return [json.loads(line) for line in log.read_text().splitlines()]

    return Docker
