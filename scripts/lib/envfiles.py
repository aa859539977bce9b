"""The per-environment env files: env/<ENV>.env (committed) and env/<ENV>.secrets.env (generated)."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path

from dotenv import dotenv_values

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("development", "staging", "production")
PLACEHOLDER = "!!!SET"
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


class EnvError(Exception):
    """An environment name or file problem the operator has to fix."""


def environment(name: str | None) -> str:
    """The environment named on the command line, else APP_ENV, else development."""
    name = name or os.environ.get("APP_ENV") or "development"
    if name not in ENVIRONMENTS:
        raise EnvError(f"unknown environment {name!r}: use one of {', '.join(ENVIRONMENTS)}")
    return name


def settings_file(env: str, root: Path = REPO) -> Path:
    return root / "env" / f"{env}.env"


def secrets_file(env: str, root: Path = REPO) -> Path:
    return root / "env" / f"{env}.secrets.env"


def read(path: Path) -> dict[str, str]:
    if not path.exists():
        raise EnvError(f"{path} does not exist")
    return {key: value or "" for key, value in dotenv_values(path, interpolate=False).items()}


def read_environment(env: str, root: Path = REPO) -> dict[str, str]:
    """Settings overlaid with secrets, the order compose reads them in (--env-file, --env-file)."""
    values = read(settings_file(env, root))
    secrets = secrets_file(env, root)
    if secrets.exists():
        values.update(read(secrets))
    return values


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock beside `path`, so two scripts never rewrite the same file at once."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def render_value(value: str) -> str:
    """Quote a value only when the dotenv format needs it; single quotes stop compose's $-interpolation."""
    if value == "" or re.fullmatch(r"[A-Za-z0-9_./:@%+=,~-]+", value):
        return value
    if "'" in value or "\n" in value:
        raise EnvError("a value with a single quote or a line break cannot be written to an env file")
    return f"'{value}'"


def update(path: Path, values: dict[str, str]) -> list[str]:
    """Set `values` in `path` atomically, keeping every other line and comment byte for byte.

    An existing assignment is replaced in place; a new key is appended. Returns the keys whose
    value actually changed (an unchanged file is not rewritten at all).
    """
    original = path.read_text() if path.exists() else ""
    current = read(path) if path.exists() else {}
    changed = [key for key, value in values.items() if current.get(key) != value]
    if not changed:
        return []
    lines = original.splitlines(keepends=True)
    pending = {key: values[key] for key in changed}
    for index, line in enumerate(lines):
        match = _ASSIGNMENT.match(line)
        if match and match.group(1) in pending:
            key = match.group(1)
            ending = "\n" if line.endswith("\n") else ""
            lines[index] = f"{key}={render_value(pending.pop(key))}{ending}"
    if pending and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.extend(f"{key}={render_value(value)}\n" for key, value in pending.items())
    write_atomically(path, "".join(lines))
    return changed


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old or the new file, never half."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
