"""Back up both databases and GlitchTip's uploads:  scripts/backup [ENV] [--include-secrets]

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

The data is read through the running stack: pg_dump runs inside the postgres service, and the
uploads volume is read by a one-off container of GlitchTip's image. With --direct (how the
backup service runs it inside its container) Postgres is reached through libpq's variables
(PGHOST, PGPORT, PGUSER, PGPASSWORD), the uploads are the folder BACKUP_UPLOADS_DIR, and the
settings come from the environment instead of the env files.

The secrets file env/ENV.secrets.env is not part of a backup unless --include-secrets: a backup is
what gets copied off the machine, and the secrets would open everything (README.md, Backups).

Exit status: 0 done, 2 configuration, 3 Postgres unreachable, 4 a dump or the uploads failed,
5 the backup could not be written (disk full, permissions).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scripts._steps import StepFailed, Steps
from scripts.backups import backup_data, backup_folder, backup_runner
from scripts.backups.backup_data import Database
from scripts.backups.backup_runner import CommandFailed, Runner
from scripts.settings import envfiles

STEPS = 6


@dataclass
class Settings:
    env: str
    databases: list[Database]
    folder: Path  # BACKUP_DIR/ENV
    keep: int
    project: str


def settings(env: str, values: Mapping[str, str], root: Path = envfiles.REPO) -> Settings:
    keep = values.get("BACKUP_KEEP", "7")
    if not keep.isdigit() or int(keep) < 1:
        raise envfiles.EnvError(f"BACKUP_KEEP is {keep!r}: set a whole number of 1 or more (how many backups of "
                                f"the environment to keep) in env/{env}.env")
    return Settings(env, backup_data.databases(values), backup_folder.env_folder(
        backup_folder.backups_root(values, root), env), int(keep), values.get("COMPOSE_PROJECT_NAME", ""))


def failed(error: CommandFailed, backup: Path) -> StepFailed:
    if error.disk_full:
        return StepFailed(5, f"{error.what}: {error.detail}",
                          f"free space on the disk of {backup} (df -h {backup}), lower BACKUP_KEEP, or set BACKUP_DIR "
                          "to a larger disk; nothing of this backup was kept")
    return StepFailed(4, f"{error.what} failed: {error.detail}",
                      "read the message above; the stack's logs: scripts/compose ENV logs postgres; nothing of this "
                      "backup was kept")


@contextmanager
def reported(folder: Path) -> Iterator[None]:
    """Inside a step: a command that failed, or a file that could not be written, as the step's failure."""
    try:
        yield
    except CommandFailed as error:
        raise failed(error, folder) from None
    except OSError as error:
        raise StepFailed(5, f"could not write into {folder}: {error.strerror}",
                         f"check the free space and permissions of {folder}; nothing of this backup was kept") from None


def take_backup(runner: Runner, config: Settings, steps: Steps, *, label: str = "", keep_all: bool = False,
                secrets: Path | None = None) -> Path:
    """One backup of the stack `runner` reaches into config.folder; returns its folder.
    `keep_all` skips the pruning (restore's backup of its target must not delete what it restores)."""
    backup_folder.private_folder(config.folder.parent)
    with envfiles.locked(config.folder):  # one backup of an environment at a time
        backup_folder.remove_incomplete(config.folder)
        with backup_folder.NewBackup(config.folder, label) as new:
            final = write_backup(runner, config, steps, new, secrets)
        with steps.step(f"keep the newest {config.keep} backups of {config.env}") as out, reported(config.folder):
            removed = [] if keep_all else backup_folder.prune(config.folder, config.keep)
            out["result"] = f"{len(removed)} older removed" if removed else "nothing to remove"
    return final


def write_backup(runner: Runner, config: Settings, steps: Steps, new: backup_folder.NewBackup,
                 secrets: Path | None) -> Path:
    with steps.step(f"reach {runner.where()}") as out:
        try:
            version = backup_data.server_version(runner)
        except CommandFailed as error:
            raise StepFailed(3, f"cannot reach {runner.where()}: {error.detail}", runner.unreachable_fix()) from None
        out["result"] = f"PostgreSQL {version}"
    databases = {}
    for database in config.databases:
        with steps.step(f"dump {database.title} ({database.name})") as out, reported(config.folder):
            entry = databases[database.key] = backup_data.dump(runner, database, new.temporary)
            out["result"] = (f"{sum(entry['tables'].values())} rows in {len(entry['tables'])} main tables, "
                             f"{backup_folder.size(entry['bytes'])}")
    with steps.step("GlitchTip's uploads") as out, reported(config.folder):
        uploads = backup_data.dump_uploads(runner, new.temporary)
        out["result"] = f"{uploads['files']} files, {backup_folder.size(uploads['bytes'])}"
    with steps.step("manifest and checksums") as out, reported(config.folder):
        release, release_source = runner.release()
        if secrets is not None:
            shutil.copyfile(secrets, new.temporary / backup_folder.SECRETS_COPY)
            os.chmod(new.temporary / backup_folder.SECRETS_COPY, 0o600)
        backup_folder.write_manifest(new.temporary, {
            "format": backup_folder.FORMAT,
            "started": new.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "environment": config.env,
            "compose_project": config.project,
            "release": release,
            "release_source": release_source,
            "images": runner.images(),
            "postgres_server_version": version,
            "databases": databases,
            "uploads": uploads,
            "secrets": (f"included as {backup_folder.SECRETS_COPY}" if secrets is not None else
                        f"not included: keep env/{config.env}.secrets.env safe on its own (README.md, Backups)"),
        })
        final = new.finish()
        out["result"] = f"release {release or 'unknown'}; {final}"
    return final


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", help="development, staging or production (default $APP_ENV)")
    parser.add_argument("--include-secrets", action="store_true",
                        help="also copy env/ENV.secrets.env into the backup (then guard the backup like the secrets)")
    parser.add_argument("--direct", action="store_true",
                        help="inside the backup service: Postgres through PG* variables, uploads from "
                             "BACKUP_UPLOADS_DIR, settings from the environment")
    args = parser.parse_args(argv[1:])
    steps = Steps("backup", STEPS)
    try:
        env = envfiles.environment(args.env)
        runner, values = backup_runner.chosen(env, args.direct)
        config = settings(env, values)
        secrets = None
        if args.include_secrets:
            secrets = envfiles.secrets_file(env)
            if args.direct or not secrets.exists():
                raise envfiles.EnvError(f"--include-secrets needs env/{env}.secrets.env on this machine")
        print(f"backup {env} -> {config.folder}")
        final = take_backup(runner, config, steps, secrets=secrets)
    except envfiles.EnvError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 2
    except StepFailed as error:
        return steps.fail(error)
    except OSError as error:  # the backups folder itself: created, locked
        print(f"backup: cannot write into {error.filename or 'the backups folder'}: {error.strerror}\n"
              "  Fix: check BACKUP_DIR, its permissions and free space", file=sys.stderr)
        return 5
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
