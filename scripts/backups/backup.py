"""Back up both databases and GlitchTip's uploads:  scripts/backup [ENV] [--include-secrets] [--direct]

ENV is development, staging or production (default $APP_ENV, else development). The backup is
written to BACKUP_DIR/ENV/<UTC time>/ (default backups/ENV/..., git-ignored, mode 700):

  app.dump, glitchtip.dump   pg_dump --format=custom of the app's and GlitchTip's databases
  glitchtip-uploads.tar      GlitchTip's uploads volume (/code/uploads)
  manifest.json              time, environment, images of the running services, the app's release,
                             Postgres' version, row counts of the main tables (taken in the same
                             snapshot as the dump), size and sha256 of every file
  SHA256SUMS                 the checksums again, for `sha256sum -c SHA256SUMS`

It is written into a hidden .incomplete-* folder that is renamed at the end, so a failed or killed
backup leaves nothing that looks complete. Afterwards only the newest BACKUP_KEEP backups of the
environment are kept. Restore one with scripts/restore ENV FOLDER.

The backup runs in a one-off container of the stack's backup service (the postgres service's image
with Python: pg_dump is the server's version), which reaches the running postgres service over the
stack's network and reads the uploads volume. With --direct, on a host without Compose (and so
inside the backup service): Postgres through libpq's variables (PGHOST, PGPORT, PGUSER, PGPASSWORD),
the uploads are the folder BACKUP_UPLOADS_DIR, the settings come from the environment, and
pg_dump is the one on PATH.

The secrets file env/ENV.secrets.env is not part of a backup unless --include-secrets: a backup is
what gets copied off the machine, and the secrets would open everything (README.md, Backups).

Exit status: 0 done, 2 configuration, 3 Postgres unreachable, 4 a dump or the uploads failed,
5 the backup could not be written (disk full, permissions).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from scripts.backups import archive, data

ROOT = Path(__file__).resolve().parents[2]  # the bundle's folder (/bundle in the backup image)
T = TypeVar("T")


class Failed(Exception):
    """What stops a backup or a restore: its exit status, the problem, and what to do about it."""

    def __init__(self, code: int, problem: str, fix: str):
        super().__init__(problem)
        self.code = code
        self.problem = problem
        self.fix = fix

    def report(self, script: str) -> int:
        print(f"{script}: {self.problem}\n  Fix: {self.fix}", file=sys.stderr)
        return self.code


def step(title: str, action: Callable[[], T], said: Callable[[T], str] = str) -> T:
    """One line of progress: the title at once, then what `said` makes of the action's result."""
    print(f"{title} ...", end=" ", flush=True)
    try:
        value = action()
    except BaseException:
        print("FAILED", flush=True)
        raise
    print(said(value), flush=True)
    return value


@dataclass
class Settings:
    """A backup's settings, as the backup service's environment (compose.yml) gives them."""
    env: str
    databases: list[data.Database]
    folder: Path  # BACKUP_DIR/ENV
    keep: int
    uploads: Path
    project: str = ""
    release: str = ""
    images: dict[str, str] | None = None
    secrets: Path | None = None  # a copy of the secrets file to include

    @classmethod
    def of(cls, env: str, values: Mapping[str, str]) -> Settings:
        keep = values.get("BACKUP_KEEP", "7")
        if not keep.isdigit() or int(keep) < 1:
            raise Failed(2, f"BACKUP_KEEP is {keep!r}", "set a whole number of 1 or more (how many backups of the "
                                                        f"environment to keep) in env/{env}.env")
        if not values.get("BACKUP_UPLOADS_DIR"):
            raise Failed(2, "BACKUP_UPLOADS_DIR is not set", "set it to the folder of GlitchTip's uploads")
        if not re.fullmatch(r"[a-z]+", env):
            raise Failed(2, f"unknown environment {env!r}", "use one of development, staging, production")
        images = json.loads(values.get("BACKUP_IMAGES") or "{}")
        return cls(env, data.databases(values), ROOT / (values.get("BACKUP_DIR") or "backups") / env, int(keep),
                   Path(values["BACKUP_UPLOADS_DIR"]), values.get("COMPOSE_PROJECT_NAME", ""),
                   values.get("SENTRY_RELEASE", ""), images, Path(values["BACKUP_SECRETS_FILE"])
                   if values.get("BACKUP_SECRETS_FILE") else None)


UNREACHABLE = "check that the server runs and that PGHOST, PGPORT, PGUSER and PGPASSWORD reach it as the superuser"


@contextlib.contextmanager
def kept_nothing(folder: Path) -> Iterator[None]:
    """A dump that failed, or a file that could not be written, as the backup's failure."""
    try:
        yield
    except data.DataError as error:
        raise Failed(4, f"{error.what} failed: {error.detail}", "read the message above; the server's log says "
                     "more (scripts/compose ENV logs postgres); nothing of this backup was kept") from None
    except OSError as error:
        raise Failed(5, f"could not write into {folder}: {error.strerror}",
                     f"free space on the disk of {folder} (df -h {folder}), lower BACKUP_KEEP, or set BACKUP_DIR "
                     "to a larger disk; check its permissions; nothing of this backup was kept") from None


def take(server: data.Server, config: Settings, *, label: str = "", keep_all: bool = False) -> Path:
    """One backup into config.folder; returns its folder. `keep_all` skips the pruning (restore's
    backup of its target must not delete the backup being restored)."""
    with kept_nothing(config.folder), archive.locked(config.folder):
        with archive.NewBackup(config.folder, label) as new:
            try:
                version = step(f"reach {server.where()}", server.version, "PostgreSQL {}".format)
            except data.DataError as error:
                raise Failed(3, f"cannot reach {server.where()}: {error.detail}", UNREACHABLE) from None
            databases = {}
            for database in config.databases:
                databases[database.key] = step(
                    f"dump {database.title} ({database.name})", partial(server.dump, database, new.temporary),
                    lambda entry: f"{sum(entry['tables'].values())} rows in {len(entry['tables'])} main tables, "
                                  f"{archive.size((new.temporary / entry['file']).stat().st_size)}")
            uploads = step("GlitchTip's uploads", partial(data.dump_uploads, config.uploads,
                                                          new.temporary / archive.UPLOADS),
                           lambda found: f"{found['files']} files, {archive.size(found['bytes'])}")
            if config.secrets is not None:
                shutil.copyfile(config.secrets, new.temporary / archive.SECRETS_COPY)
                os.chmod(new.temporary / archive.SECRETS_COPY, 0o600)
            manifest = {
                "format": archive.FORMAT,
                "started": new.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "environment": config.env,
                "compose_project": config.project,
                "release": config.release,
                "images": config.images,
                "postgres_server_version": version,
                "databases": databases,
                "uploads": uploads,
                "secrets": (f"included as {archive.SECRETS_COPY}" if config.secrets else
                            f"not included: keep env/{config.env}.secrets.env safe on its own (README.md, Backups)"),
            }
            final = step("manifest and checksums", partial(new.finish, manifest),
                         lambda path: f"release {config.release or 'unknown'}; {path}")
        step(f"keep the newest {config.keep} backups of {config.env}",
             lambda: [] if keep_all else archive.prune(config.folder, config.keep),
             lambda removed: f"{len(removed)} older removed" if removed else "nothing to remove")
    return final


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", help="development, staging or production (default $APP_ENV)")
    parser.add_argument("--include-secrets", action="store_true",
                        help="also copy env/ENV.secrets.env into the backup (then guard the backup like the secrets)")
    parser.add_argument("--direct", action="store_true",
                        help="no Compose: Postgres through PG* variables, uploads from BACKUP_UPLOADS_DIR, "
                             "settings from the environment")
    args = parser.parse_args(argv[1:])
    env = args.env or os.environ.get("APP_ENV") or "development"
    if not args.direct:
        from scripts.backups import on_stack  # the host's side (Compose), not in the backup image

        return on_stack.backup(env, include_secrets=args.include_secrets)
    try:
        if args.include_secrets:
            raise Failed(2, "--include-secrets needs the stack's env files", f"run scripts/backup {env} on the host "
                         "of the stack, or copy the secrets file on its own")
        config = Settings.of(env, os.environ)
        print(f"backup {env} -> {config.folder}")
        final = take(data.Server(os.environ), config)
    except Failed as error:
        return error.report("backup")
    print(f"Done: {final}")
    return 0


def stop_on_sigterm() -> None:
    """`docker stop` and `kill` end the backup like Ctrl-C: the unfinished folder is removed on the way out."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


if __name__ == "__main__":
    stop_on_sigterm()
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        print("backup: interrupted; the unfinished backup was removed", file=sys.stderr)
        sys.exit(130)
