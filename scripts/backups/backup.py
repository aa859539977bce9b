"""Back up both databases and GlitchTip's uploads:  scripts/backup [ENV] [--include-secrets] [--direct]

ENV is development, staging or production (default $APP_ENV, else development). The backup goes to
BACKUP_DIR/ENV/<UTC time>/ (default backups/ENV/..., git-ignored, mode 700): app.dump and
glitchtip.dump (pg_dump --format=custom), glitchtip-uploads.tar, manifest.json (time, environment,
images of the running services, release, Postgres' version, row counts of the main tables from the
dump's own snapshot, size and sha256 of every file) and SHA256SUMS (for `sha256sum -c`). It is
written into a hidden .incomplete-* folder renamed at the end; then only the newest BACKUP_KEEP
backups of the environment are kept. Restore one with scripts/restore ENV FOLDER.

It runs in a one-off container of the stack's backup service (the postgres image with Python: the
server's own pg_dump), on the stack's network, reading the uploads volume. --direct, on a host
without Compose (and in the backup service): Postgres through libpq's PGHOST, PGPORT, PGUSER,
PGPASSWORD, the uploads in the folder BACKUP_UPLOADS_DIR, settings from the environment.
env/ENV.secrets.env is not included unless --include-secrets (README.md, Backups).

Exit status: 0 done, 2 configuration, 3 Postgres unreachable, 4 a dump or the uploads failed,
5 the backup could not be written (disk full, permissions).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from scripts.backups import archive, data
from scripts.backups.steps import Failed, step

ROOT = Path(__file__).resolve().parents[2]  # the bundle's folder (/bundle in the backup image)
UNREACHABLE = "check that the server runs and that PGHOST, PGPORT, PGUSER and PGPASSWORD reach it as the superuser"


@dataclass
class Settings:
    """As the backup service's environment (compose.yml) gives them."""

    env: str
    values: Mapping[str, str]

    def __post_init__(self):
        keep = self.values.get("BACKUP_KEEP", "7")
        if not keep.isdigit() or int(keep) < 1:
            raise Failed(
                2,
                f"BACKUP_KEEP is {keep!r}",
                f"set a whole number of 1 or more (how many backups of the environment to keep) in env/{self.env}.env",
            )
        if not self.env.isalpha() or not self.values.get("BACKUP_UPLOADS_DIR"):
            raise Failed(
                2,
                "no environment or no BACKUP_UPLOADS_DIR",
                "set APP_ENV, and BACKUP_UPLOADS_DIR to the folder of GlitchTip's uploads",
            )
        self.keep = int(keep)
        self.databases = data.databases(self.values)
        self.folder = ROOT / (self.values.get("BACKUP_DIR") or "backups") / self.env
        self.uploads = Path(self.values["BACKUP_UPLOADS_DIR"])


@contextlib.contextmanager
def nothing_kept(folder: Path) -> Iterator[None]:
    """A dump that failed, or a file that could not be written, as the backup's failure."""
    try:
        yield
    except data.DataError as error:
        raise Failed(
            4,
            f"{error.what} failed: {error.detail}",
            "read the message above; the server's log says "
            "more (scripts/compose ENV logs postgres); nothing of this backup was kept",
        ) from None
    except OSError as error:
        raise Failed(
            5,
            f"could not write into {folder}: {error.strerror}",
            f"free space on the disk of {folder} (df -h {folder}), lower BACKUP_KEEP, or set BACKUP_DIR "
            "to a larger disk; check its permissions; nothing of this backup was kept",
        ) from None


def take(config: Settings, *, label: str = "", keep_all: bool = False) -> Path:
    """One backup into config.folder; returns its folder. `keep_all`: no pruning (restore's backup of
    its target must not delete the backup being restored)."""
    started = datetime.now(UTC)
    with nothing_kept(config.folder), archive.writing(config.folder) as temporary:
        try:
            version = step(f"reach {data.where()}", data.version, "PostgreSQL {}".format)
        except data.DataError as error:
            raise Failed(3, f"cannot reach {data.where()}: {error.detail}", UNREACHABLE) from None
        databases = {
            database.key: step(
                f"dump {database.title} ({database.name})",
                partial(data.dump, database, temporary),
                lambda entry: (
                    f"{sum(entry['tables'].values())} rows in {len(entry['tables'])} main tables, "
                    f"{(temporary / entry['file']).stat().st_size:,} bytes"
                ),
            )
            for database in config.databases
        }
        uploads = step(
            "GlitchTip's uploads",
            partial(data.dump_uploads, config.uploads, temporary / archive.UPLOADS),
            lambda found: f"{found['files']} files, {found['bytes']:,} bytes",
        )
        secrets = config.values.get("BACKUP_SECRETS_FILE")
        if secrets:
            archive.write_private(temporary / archive.SECRETS_COPY, Path(secrets).read_text())
        release = config.values.get("SENTRY_RELEASE", "")
        manifest = {
            "format": archive.FORMAT,
            "started": f"{started:%Y-%m-%dT%H:%M:%SZ}",
            "finished": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
            "environment": config.env,
            "compose_project": config.values.get("COMPOSE_PROJECT_NAME", ""),
            "release": release,
            "images": json.loads(config.values.get("BACKUP_IMAGES") or "{}"),
            "postgres_server_version": version,
            "databases": databases,
            "uploads": uploads,
            "secrets": (
                f"included as {archive.SECRETS_COPY}"
                if secrets
                else f"not included: keep env/{config.env}.secrets.env safe on its own (README.md, Backups)"
            ),
        }
        name = f"{started:%Y%m%dT%H%M%SZ}" + (f"-{label}" if label else "")
        final = step(
            "manifest and checksums",
            partial(archive.finish, temporary, name, manifest),
            lambda path: f"release {release or 'unknown'}; {path}",
        )
        step(
            f"keep the newest {config.keep} backups of {config.env}",
            lambda: [] if keep_all else archive.prune(config.folder, config.keep),
            lambda removed: f"{len(removed)} older removed" if removed else "nothing to remove",
        )
    return final


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="backup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("env", nargs="?", help="development, staging or production (default $APP_ENV)")
    parser.add_argument(
        "--include-secrets",
        action="store_true",
        help="also copy env/ENV.secrets.env into the backup (then guard the backup like the secrets)",
    )
    parser.add_argument("--direct", action="store_true", help="no Compose: see above")
    args = parser.parse_args(argv[1:])
    env = args.env or os.environ.get("APP_ENV") or "development"
    if not args.direct:
        from scripts.backups import on_stack  # the host's side (Compose), not in the backup image

        return on_stack.backup(env, include_secrets=args.include_secrets)
    try:
        if args.include_secrets:
            raise Failed(2, "--include-secrets needs the stack's env files", "copy the secrets file on its own")
        config = Settings(env, os.environ)
        data.use_password_file()
        print(f"backup {env} -> {config.folder}")
        final = take(config)
    except Failed as error:
        return error.report("backup")
    print(f"Done: {final}")
    return 0


if __name__ == "__main__":

    def interrupt(signum, frame):  # `docker stop`, `kill`: like Ctrl-C, the unfinished folder is removed
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        print("backup: interrupted; the unfinished backup was removed", file=sys.stderr)
        sys.exit(130)
