"""Restore a backup into an environment's stack:  scripts/restore ENV FOLDER [--force] [--direct]

FOLDER is a backup made by scripts/backup (e.g. backups/production/20261129T023000Z). Each step is
printed; nothing is changed until the checks have passed:

  - check the backup: its manifest, the size and sha256 of every file. A damaged backup is refused.
  - check the target: Postgres answers, its pg_restore reads both dumps, the roles that own the
    databases exist (postgres/initdb.d creates them on the first start of an empty volume), and both
    databases are empty. A target with rows in its main tables is refused unless --force.
  - with --force: back up the target first (BACKUP_DIR/ENV/<time>-before-restore).
  - stop what writes, as far as it runs: app, scheduler, glitchtip-web, glitchtip-worker, backup.
  - each database dropped and created again from its dump (pg_restore --create), with the owner
    and privileges it had; GlitchTip's uploads emptied and unpacked from the backup.
  - row counts of the main tables, and the number of uploads, against the manifest.
  - migrations (app-migrate, glitchtip-migrate): a backup of an older release is brought up to the
    code that runs now. GlitchTip's migrations only go forward.
  - start everything, provision GlitchTip and run the smoke test: scripts/up ENV.

The data is read and written by one-off containers of the stack's backup service, as scripts/backup
does. Secrets are not in a backup: the stack must run with the secrets file the data was made with,
or bootstrap-glitchtip (in scripts/up) re-links a new one as far as it can (README.md, Restore).
With --direct (a restore drill into a bare server): Postgres through libpq's PG* variables, the
uploads folder BACKUP_UPLOADS_DIR, settings from the environment; no services to stop, migrate or start.

Exit status: 0 restored, 2 configuration, 3 the backup is damaged or incomplete, 4 the target is
not ready, 5 the target is not empty (no --force), 6 the backup of the target failed, 7 services
could not be stopped, 8 a database, 9 the uploads could not be restored, 10 migrations failed,
11 row counts differ from the manifest, 12 starting the stack or the smoke test failed.
"""
from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path

from scripts.backups import archive, data
from scripts.backups.backup import UNREACHABLE, Failed, Settings, step, take

INDENT = "      "


class Restore:
    """The data's part of a restore, where the data is: checks, the backup of the target, the replacement."""

    def __init__(self, server: data.Server, config: Settings, folder: Path, *, force: bool):
        self.server = server
        self.config = config
        self.folder = folder
        self.force = force
        self.needed = [d.file for d in config.databases] + [archive.UPLOADS]
        self.manifest: dict = {}

    def check_backup(self) -> str:
        try:
            self.manifest = archive.verify(self.folder, self.needed)
        except archive.Invalid as error:
            raise Failed(3, error.problem, error.fix) from None
        made = self.manifest.get("environment")
        note = f", made in {made}" if made != self.config.env else ""
        if (self.folder / archive.SECRETS_COPY).exists():
            note += f"; it holds a copy of the secrets file ({archive.SECRETS_COPY}), not applied"
        return f"intact: {len(self.manifest['files'])} files, started {self.manifest.get('started')}{note}"

    def check_target(self) -> bool:
        """Whether the target has data (then only --force goes on)."""
        if not self.manifest:  # checked on the host already (scripts/restore ENV FOLDER)
            self.manifest = archive.read_manifest(self.folder)
        return step(f"check the target ({self.server.where()})", self.target, lambda found: found[0])[1]

    def target(self) -> tuple[str, bool]:
        entries = self.manifest["databases"]
        try:
            version = self.server.version()
        except data.DataError as error:
            raise Failed(4, f"cannot reach {self.server.where()}: {error.detail}", UNREACHABLE) from None
        for database in self.config.databases:
            try:
                self.server.check_archive(self.folder / database.file, database.title)
            except data.DataError as error:
                raise Failed(3, f"{database.file} cannot be read by the target's pg_restore: {error.detail}",
                             "restore it into a server of the version it was made with "
                             f"({self.manifest.get('postgres_server_version')})") from None
            if entries[database.key]["name"] != database.name:
                raise Failed(4, f"the backup holds {database.title} as {entries[database.key]['name']!r}, but "
                                f"{self.config.env} names it {database.name!r}",
                             "set APP_DB_NAME / GLITCHTIP_DB_NAME in env/ENV.env as they were in the backup")
        roles = sorted({entries[d.key]["owner"] for d in self.config.databases})
        try:
            missing = self.server.missing_roles(roles)
            rows = {d.title: self.server.counts(d) for d in self.config.databases}
        except data.DataError as error:
            raise Failed(4, f"{error.what} failed: {error.detail}", UNREACHABLE) from None
        if missing:
            raise Failed(4, f"role(s) {', '.join(missing)} do not exist on the target",
                         "postgres/initdb.d creates them on the first start of an empty volume: start the stack's "
                         f"database once (scripts/compose {self.config.env} up --detach --wait postgres), with "
                         "APP_DB_USER and GLITCHTIP_DB_USER as they were when the backup was made")
        occupied = {title: counts for title, counts in rows.items() if any(counts.values())}
        if occupied and not self.force:
            described = "; ".join(f"{title}: " + ", ".join(f"{t} {n}" for t, n in counts.items() if n)
                                  for title, counts in occupied.items())
            raise Failed(5, f"the target is not empty ({described})",
                         "restore into an empty stack, or pass --force: the target is then backed up first and "
                         "replaced")
        state = "has data (--force)" if occupied else "empty"
        return f"PostgreSQL {version}, both dumps readable, roles {', '.join(roles)} exist, {state}", bool(occupied)

    def back_up_target(self) -> Path:
        print("back up the target first:")
        try:
            # Not pruned: the backup being restored may be the oldest one kept.
            copy = take(self.server, self.config, label="before-restore", keep_all=True)
        except Failed as error:
            raise Failed(6, f"the backup of the target failed: {error.problem}", error.fix) from None
        print(f"{INDENT}the target's data before the restore: {copy}")
        return copy

    def replace(self, before: str) -> None:
        """Both databases and the uploads from the backup, then their counts against the manifest.
        `before`: where the target's own data went, for the fix of a failure half-way."""
        if not self.manifest:
            self.manifest = archive.read_manifest(self.folder)
        again = f"fix the cause and run the restore again (with --force){before}"
        for database in self.config.databases:
            try:
                step(f"restore {database.title} ({database.name})", partial(self.restore_database, database))
            except data.DataError as error:
                raise Failed(8, f"{error.what} failed: {error.detail}", again) from None
        try:
            step("restore GlitchTip's uploads",
                 lambda: data.restore_uploads(self.folder / archive.UPLOADS, self.config.uploads),
                 lambda _: f"{self.manifest['uploads']['files']} files")
        except (data.DataError, OSError) as error:
            raise Failed(9, f"restoring GlitchTip's uploads failed: {error}", again) from None
        step("row counts against the manifest", lambda: self.compare_counts(again), str)

    def restore_database(self, database: data.Database) -> str:
        self.server.restore(database, self.folder / database.file)
        return f"{sum(self.manifest['databases'][database.key]['tables'].values())} rows in the main tables"

    def compare_counts(self, again: str) -> str:
        differences, total = [], 0
        for database in self.config.databases:
            expected = self.manifest["databases"][database.key]["tables"]
            found = self.server.counts(database)
            total += sum(found.values())
            differences += [f"{table}: {count} in the backup, {found.get(table)} now"
                            for table, count in expected.items() if found.get(table) != count]
        uploads = data.count_uploads(self.config.uploads)
        if uploads != self.manifest["uploads"]["files"]:
            differences.append(f"uploads: {self.manifest['uploads']['files']} files in the backup, {uploads} now")
        if differences:
            raise Failed(11, "the restored data differs from the manifest: " + "; ".join(differences), again)
        return f"all {total} rows and {uploads} uploads are back"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="restore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", help="development, staging or production")
    parser.add_argument("folder", type=Path, help="the backup, e.g. backups/production/20261129T023000Z")
    parser.add_argument("--force", action="store_true", help="replace a target that has data (it is backed up first)")
    parser.add_argument("--direct", action="store_true",
                        help="a bare server: Postgres through PG* variables, uploads in BACKUP_UPLOADS_DIR, "
                             "settings from the environment, no services to stop or start")
    # The host's scripts/restore runs the data's part in two containers, stopping the writers between.
    parser.add_argument("--part", choices=["check", "replace"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv[1:])
    folder = args.folder.resolve()
    if not args.direct:
        from scripts.backups import on_stack  # the host's side (Compose), not in the backup image

        return on_stack.restore(args.env, folder, force=args.force)
    try:
        restore = Restore(data.Server(os.environ), Settings.of(args.env, os.environ), folder, force=args.force)
        if args.part is None:
            print(f"restore {folder} -> {args.env}")
            step(f"check the backup {folder}", restore.check_backup)
        before = (f"; the target's data before the restore is in the newest <time>-before-restore of "
                  f"{restore.config.folder}" if args.force else "")
        if args.part != "replace" and restore.check_target():
            before = f"; the target's data before the restore is in {restore.back_up_target()}"
        if args.part != "check":
            restore.replace(before)
    except Failed as error:
        return error.report("restore")
    if args.part is None:
        print(f"Done: {args.env} holds the data of {folder.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
