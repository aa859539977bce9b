"""Restore a backup into an environment's stack:  scripts/restore ENV FOLDER [--force] [--direct]

FOLDER is a backup made by scripts/backup (e.g. backups/production/20261129T023000Z). Each step is
printed; nothing is changed before the checks have passed:

  - the backup: its manifest, the size and sha256 of every file. A damaged backup is refused.
  - the release named after the checkout (env/ENV.release.env, as scripts/up names it): the images
    the restore builds and runs are this checkout's.
  - the target: Postgres answers, its pg_restore reads both dumps, the roles that own the databases
    exist (postgres/initdb.d makes them on the first start of an empty volume), and both databases
    are empty. A target with rows in its main tables is refused unless --force, which first backs
    it up (BACKUP_DIR/ENV/<time>-before-restore).
  - the images the migrations run in, while what runs keeps serving: the app's (built if missing),
    GlitchTip's (pulled if missing).
  - stop what writes, as far as it runs: app, scheduler, glitchtip-web, glitchtip-worker, backup.
  - each database dropped and created again from its dump (pg_restore --create), owner and
    privileges included; GlitchTip's uploads emptied and unpacked; row counts and the number of
    uploads compared with the manifest.
  - migrations (app-migrate, glitchtip-migrate), then scripts/up ENV: everything started, GlitchTip
    provisioned, the smoke test.

The data's part runs in one-off containers of the stack's backup service, as scripts/backup does.
--direct (a drill into a bare server): Postgres through libpq's PG* variables, the uploads folder
BACKUP_UPLOADS_DIR, settings from the environment; no services to stop, migrate or start.
Secrets are not in a backup (docs/operations/backup-and-restore.md, "Restore").

Exit status: 0 restored, 2 configuration, 3 the backup is damaged or incomplete, 4 the target is
not ready, 5 the target is not empty (no --force), 6 the backup of the target failed, 7 services
could not be stopped, 8 a database, 9 the uploads could not be restored, 10 the migrations (or
their images) failed, 11 row counts differ from the manifest, 12 starting the stack or the smoke
test failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path

from scripts.backups import archive, data
from scripts.backups.backup import UNREACHABLE, Settings, take
from scripts.backups.steps import Failed, check_backup, step


def check_target(manifest: dict, folder: Path, config: Settings, force: bool) -> tuple[str, bool]:
    """What the target is, and whether it has data; Failed if it is not ready, or has data and no --force."""
    entries = manifest["databases"]
    try:
        found_version = data.version()
    except data.DataError as error:
        raise Failed(4, f"cannot reach {data.where()}: {error.detail}", UNREACHABLE) from None
    for database in config.databases:
        try:
            data.check_archive(folder / database.file)
        except data.DataError as error:
            raise Failed(
                3,
                f"{database.file} cannot be read by the target's pg_restore: {error.detail}",
                f"restore it into a server of the version it was made with ({manifest.get('postgres_server_version')})",
            ) from None
        if entries[database.key]["name"] != database.name:
            raise Failed(
                4,
                f"the backup holds {database.title} as {entries[database.key]['name']!r}, but "
                f"{config.env} names it {database.name!r}",
                "set APP_DB_NAME / GLITCHTIP_DB_NAME in env/ENV.env as they were in the backup",
            )
    roles = sorted({entries[database.key]["owner"] for database in config.databases})
    try:
        missing = data.missing_roles(roles)
        rows = {database.title: data.counts(database) for database in config.databases}
    except data.DataError as error:
        raise Failed(4, f"{error.what} failed: {error.detail}", UNREACHABLE) from None
    if missing:
        raise Failed(
            4,
            f"role(s) {', '.join(missing)} do not exist on the target",
            "postgres/initdb.d creates them on the first start of an empty volume: start the stack's "
            f"database once (scripts/compose {config.env} up --detach --wait postgres), with APP_DB_USER "
            "and GLITCHTIP_DB_USER as they were when the backup was made",
        )
    occupied = {title: counts for title, counts in rows.items() if any(counts.values())}
    if occupied and not force:
        raise Failed(
            5,
            "the target is not empty ("
            + "; ".join(
                f"{title}: " + ", ".join(f"{table} {n}" for table, n in counts.items() if n)
                for title, counts in occupied.items()
            )
            + ")",
            "restore into an empty stack, or pass --force: the target is then backed up first and replaced",
        )
    return (
        f"PostgreSQL {found_version}, both dumps readable, roles {', '.join(roles)} exist, "
        f"{'has data (--force)' if occupied else 'empty'}",
        bool(occupied),
    )


def back_up_target(config: Settings) -> str:
    print("back up the target first:")
    try:
        copy = take(config, label="before-restore", keep_all=True)  # not pruned: it may be the one restored
    except Failed as error:
        raise Failed(6, f"the backup of the target failed: {error.problem}", error.fix) from None
    print(f"the target's data before the restore: {copy}")
    return f"; the target's data before the restore is in {copy}"


def replace(manifest: dict, folder: Path, config: Settings, again: str) -> None:
    """Both databases and the uploads from the backup."""

    def restored(database: data.Database) -> str:
        data.restore(database, folder / database.file)
        return f"{sum(manifest['databases'][database.key]['tables'].values())} rows in the main tables"

    for database in config.databases:
        try:
            step(f"restore {database.title} ({database.name})", partial(restored, database))
        except data.DataError as error:
            raise Failed(8, f"{error.what} failed: {error.detail}", again) from None
    try:
        step(
            "restore GlitchTip's uploads",
            lambda: data.restore_uploads(folder / archive.UPLOADS, config.uploads),
            lambda _: f"{manifest['uploads']['files']} files",
        )
    except (data.DataError, OSError) as error:
        raise Failed(9, f"restoring GlitchTip's uploads failed: {error}", again) from None


def compare(manifest: dict, config: Settings, again: str) -> str:
    """The restored data's counts against the manifest."""
    differences, total = [], 0
    for database in config.databases:
        try:
            found = data.counts(database)
        except data.DataError as error:
            raise Failed(11, f"{error.what} failed: {error.detail}", again) from None
        total += sum(found.values())
        differences += [
            f"{table}: {count} in the backup, {found.get(table)} now"
            for table, count in manifest["databases"][database.key]["tables"].items()
            if found.get(table) != count
        ]
    uploads = data.count_uploads(config.uploads)
    if uploads != manifest["uploads"]["files"]:
        differences.append(f"uploads: {manifest['uploads']['files']} files in the backup, {uploads} now")
    if differences:
        raise Failed(11, "the restored data differs from the manifest: " + "; ".join(differences), again)
    return f"all {total} rows and {uploads} uploads are back"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="restore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("env", help="development, staging or production")
    parser.add_argument("folder", type=Path, help="the backup, e.g. backups/production/20261129T023000Z")
    parser.add_argument("--force", action="store_true", help="replace a target that has data (it is backed up first)")
    parser.add_argument("--direct", action="store_true", help="a bare server, no Compose: see above")
    # The host's scripts/restore runs the data's part in two containers and stops the writers between.
    parser.add_argument("--part", choices=["check", "replace"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv[1:])
    folder = args.folder.resolve()
    if not args.direct:
        from scripts.backups import on_stack  # the host's side (Compose), not in the backup image

        return on_stack.restore(args.env, folder, force=args.force)
    try:
        config = Settings(args.env, os.environ)
        data.use_password_file()
        if args.part is None:
            print(f"restore {folder} -> {args.env}")
            manifest = check_backup(folder)
        else:  # checked by the host's scripts/restore just before
            manifest = json.loads((folder / archive.MANIFEST).read_text())
        again = "fix the cause and run the restore again (with --force)"
        before = (
            f"; the target's data before the restore is in the newest *-before-restore of {config.folder}"
            if args.force
            else ""
        )
        if (
            args.part != "replace"
            and step(
                f"check the target ({data.where()})",
                partial(check_target, manifest, folder, config, args.force),
                lambda found: found[0],
            )[1]
        ):
            before = back_up_target(config)
        if args.part != "check":
            replace(manifest, folder, config, again + before)
            step("row counts against the manifest", partial(compare, manifest, config, again + before))
    except Failed as error:
        return error.report("restore")
    if args.part is None:
        print(f"Done: {args.env} holds the data of {folder.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
