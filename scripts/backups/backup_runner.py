"""How scripts/backup and scripts/restore reach the data: PostgreSQL's client programs and the uploads.

Two runners, both running real commands:

- `ComposeRunner` (scripts/backup, scripts/restore on the host): pg_dump, pg_restore and psql run
  inside the running postgres service (`docker compose exec`), so their version is always the
  server's; GlitchTip's uploads volume is read and written by a one-off container of GlitchTip's
  image (`docker compose run`), which works whether GlitchTip is running or stopped.
- `DirectRunner` (the backup service inside its container; the tests): the client programs on
  PATH, reaching the server through libpq's variables (PGHOST, PGPORT, PGUSER, PGPASSWORD), and
  the uploads as a local folder.

Both connect as the superuser: it reads and recreates both databases, whoever owns them.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scripts.settings import envfiles
from scripts.stack import engine

SUPERUSER = "postgres"
UPLOADS_IN_GLITCHTIP = "/code/uploads"  # glitchtip/compose.yml mounts the glitchtip-uploads volume here
CHUNK = 1 << 20


class CommandFailed(Exception):
    """A command of the runner exited non-zero (or could not write what it produced)."""

    def __init__(self, what: str, detail: str, disk_full: bool = False):
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail
        self.disk_full = disk_full


@dataclass(frozen=True)
class Command:
    argv: list[str]
    # The process's whole environment; None inherits ours.
    env: Mapping[str, str] | None = None


@dataclass
class Written:
    """What streaming a command's output into a file produced."""
    sha256: str
    size: int


class Runner(ABC):
    # The uploads folder as the uploads commands see it.
    uploads_dir: str

    @abstractmethod
    def postgres(self, program: str, *args: str) -> Command:
        """`program` (pg_dump, pg_restore, psql) connected as the superuser."""

    @abstractmethod
    def uploads(self, *argv: str) -> Command:
        """`argv` (tar, find) run where the uploads folder is `uploads_dir`."""

    @abstractmethod
    def where(self) -> str:
        """The server, in words, for messages."""

    @abstractmethod
    def unreachable_fix(self) -> str:
        """What to do when the server does not answer."""

    @abstractmethod
    def images(self) -> dict[str, str]:
        """Service -> image of what is running, as far as this runner can see."""

    @abstractmethod
    def release(self) -> tuple[str, str]:
        """The app's release and where that value came from."""


class ComposeRunner(Runner):
    uploads_dir = UPLOADS_IN_GLITCHTIP

    def __init__(self, env: str, root: Path = envfiles.REPO):
        self.env = env
        self.root = root

    def compose(self, *args: str) -> Command:
        return Command(engine.command(self.env, *args, root=self.root))

    def postgres(self, program: str, *args: str) -> Command:
        return self.compose("exec", "-T", "postgres", program, "--username", SUPERUSER, *args)

    def uploads(self, *argv: str) -> Command:
        # --no-deps: only this container; the volume and the image are all it needs.
        return self.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", argv[0], "glitchtip-web", *argv[1:])

    def where(self) -> str:
        return f"the postgres service of the {self.env} stack"

    def unreachable_fix(self) -> str:
        return f"start it: scripts/compose {self.env} up --detach --wait postgres (or scripts/up {self.env})"

    def images(self) -> dict[str, str]:
        rows = engine.ps_rows(run(self.compose("ps", "--format", "json")).stdout)
        return {row["Service"]: row["Image"] for row in rows if row.get("State") == "running"}

    def release(self) -> tuple[str, str]:
        result = run(self.compose("exec", "-T", "app", "printenv", "SENTRY_RELEASE"), check=False)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip(), "SENTRY_RELEASE of the running app container"
        release_file = envfiles.release_file(self.env, self.root)
        if release_file.exists():
            value = envfiles.read(release_file).get("SENTRY_RELEASE", "")
            if value:
                return value, f"{release_file.relative_to(self.root)} (the app is not running)"
        return "", "unknown: the app is not running"


class DirectRunner(Runner):
    def __init__(self, uploads_dir: str, environ: Mapping[str, str] | None = None):
        self.uploads_dir = uploads_dir
        self.environ = dict(os.environ if environ is None else environ)
        # A Docker secret (Swarm, scripts/swarm/swarm_stack.py): libpq reads PGPASSWORD, not a file of it.
        password_file = self.environ.pop("PGPASSWORD_FILE", "")
        if password_file and not self.environ.get("PGPASSWORD"):
            self.environ["PGPASSWORD"] = Path(password_file).read_text().rstrip("\n")

    def postgres(self, program: str, *args: str) -> Command:
        return Command([program, *args], self.environ)

    def uploads(self, *argv: str) -> Command:
        return Command(list(argv), self.environ)

    def where(self) -> str:
        return f"Postgres at {self.environ.get('PGHOST', 'localhost')}:{self.environ.get('PGPORT', '5432')}"

    def unreachable_fix(self) -> str:
        return "check that the server runs and that PGHOST, PGPORT, PGUSER and PGPASSWORD reach it as the superuser"

    def images(self) -> dict[str, str]:
        # Inside the backup service Docker is out of reach: compose passes the app's image by name.
        image = self.environ.get("BACKUP_APP_IMAGE", "")
        return {"app": image} if image else {}

    def release(self) -> tuple[str, str]:
        release = self.environ.get("SENTRY_RELEASE", "")
        return (release, "SENTRY_RELEASE as compose configures the stack") if release else ("", "unknown")


def chosen(env: str, direct: bool) -> tuple[Runner, Mapping[str, str]]:
    """The runner and where the settings come from: the environment's compose stack and env files,
    or with --direct the PG* variables, BACKUP_UPLOADS_DIR and the process's environment."""
    if not direct:
        return ComposeRunner(env), envfiles.read_environment(env)
    if not os.environ.get("BACKUP_UPLOADS_DIR"):
        raise envfiles.EnvError("--direct needs BACKUP_UPLOADS_DIR: the folder of GlitchTip's uploads")
    return DirectRunner(os.environ["BACKUP_UPLOADS_DIR"]), os.environ


# ---- running commands -----------------------------------------------------------
def run(command: Command, *, input: str | None = None, check: bool = True,
        what: str = "") -> subprocess.CompletedProcess:
    """Run to completion, text in and out."""
    result = subprocess.run(command.argv, input=input, capture_output=True, text=True, env=command.env)
    if check and result.returncode != 0:
        raise CommandFailed(what or command.argv[-1], last_lines(result.stderr or result.stdout))
    return result


def stream_to_file(command: Command, path: Path, what: str) -> Written:
    """The command's standard output into `path` (created mode 600), hashed on the way."""
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as errors, open(path, "xb") as out:
        os.chmod(path, 0o600)
        process = subprocess.Popen(command.argv, stdout=subprocess.PIPE, stderr=errors, env=command.env)
        assert process.stdout is not None
        try:
            while chunk := process.stdout.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        except OSError as exc:
            process.kill()
            process.wait()
            raise CommandFailed(what, f"could not write {path}: {exc.strerror}", disk_full=True) from None
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            errors.seek(0)
            raise CommandFailed(what, last_lines(errors.read().decode(errors="replace")))
    return Written(digest.hexdigest(), size)


def stream_from_file(command: Command, path: Path, what: str) -> str:
    """`path` into the command's standard input; returns what it printed."""
    with open(path, "rb") as source:
        result = subprocess.run(command.argv, stdin=source, capture_output=True, env=command.env)
    if result.returncode != 0:
        raise CommandFailed(what, last_lines(result.stderr.decode(errors="replace")))
    return result.stdout.decode(errors="replace")


def last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no message)"


@dataclass
class Session:
    """One psql session, kept open: several queries in one transaction, answers read as they come.

    psql prints each result as soon as it has it, so a query is written, then its lines are read
    up to a marker echoed after it.
    """
    runner: Runner
    database: str
    _process: subprocess.Popen | None = field(default=None, init=False)
    _errors: IO[bytes] | None = field(default=None, init=False)
    MARKER = "--8<-- end of answer --8<--"

    def __enter__(self) -> Session:
        command = self.runner.postgres("psql", "--dbname", self.database, "--no-psqlrc", "--quiet", "--no-align",
                                       "--tuples-only", "--set", "ON_ERROR_STOP=1")
        self._errors = tempfile.TemporaryFile()
        self._process = subprocess.Popen(command.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._errors, env=command.env, text=True, bufsize=1)
        return self

    def query(self, sql: str) -> list[list[str]]:
        """Rows of `sql`'s answer, columns split on "|" (the values asked for never contain one)."""
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(f"{sql.strip().rstrip(';')};\n\\echo '{self.MARKER}'\n")
            process.stdin.flush()
        except BrokenPipeError:
            pass  # psql has gone; the read below reports why
        rows: list[list[str]] = []
        while (line := process.stdout.readline()) != "":
            if line.rstrip("\n") == self.MARKER:
                return rows
            rows.append(line.rstrip("\n").split("|"))
        process.wait()
        raise CommandFailed(f"psql on {self.database}", self._stderr())

    def value(self, sql: str) -> str:
        rows = self.query(sql)
        return rows[0][0] if rows else ""

    def _stderr(self) -> str:
        errors = self._errors
        assert errors is not None
        errors.seek(0)
        return last_lines(errors.read().decode(errors="replace"))

    def __exit__(self, *exc_info) -> None:
        process = self._process
        if process is None:
            return
        if exc_info[0] is not None:
            process.kill()  # interrupted or failed: psql may be waiting on a query, do not wait for it
        try:
            if process.stdin is not None:
                process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._errors is not None:
            self._errors.close()
