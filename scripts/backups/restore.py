"""Restore a backup into an environment's stack:  scripts/restore ENV FOLDER [--force]

FOLDER is a backup made by scripts/backup (e.g. backups/production/20261129T023000Z). Steps, each
printed; nothing is changed before step 3:

   1. check the backup: its manifest, the size and sha256 of every file, and that this server's
      pg_restore reads each dump. A damaged backup is refused here.
   2. check the target: Postgres answers, the roles that own the databases exist (postgres/initdb.d
      creates them on the first start of an empty volume), and both databases are empty. A target
      with rows in its main tables is refused unless --force.
   3. with --force: back up the target first (BACKUP_DIR/ENV/<time>-before-restore).
   4. stop what writes: app, scheduler, glitchtip-web, glitchtip-worker (and the backup service).
   5. the app's database, 6. GlitchTip's database: each dropped and created again from its dump
      (pg_restore --create --clean), with the owner and privileges it had.
   7. GlitchTip's uploads: the volume emptied, then the backup's files unpacked.
   8. migrations (app-migrate, glitchtip-migrate): a backup of an older release is brought up to
      the code that runs now. GlitchTip's migrations only go forward.
   9. row counts of the main tables, and the number of uploads, against the manifest.
  10. start everything, provision GlitchTip and run the smoke test: scripts/up ENV.

Secrets are not in a backup: the stack must run with the secrets file the data was made with, or
bootstrap-glitchtip (step 10) re-links a new one as far as it can (README.md, Restore).
With --direct (a restore drill into a bare server): Postgres through libpq's PG* variables, the
uploads folder BACKUP_UPLOADS_DIR, settings from the environment; steps 4, 8 and 10 are skipped.

Exit status: 0 restored, 2 configuration, 3 the backup is damaged or incomplete, 4 the target is
not ready, 5 the target is not empty (no --force), 6 the backup of the target failed, 7 services
could not be stopped, 8 a database, 9 the uploads could not be restored, 10 migrations failed,
11 row counts differ from the manifest, 12 starting the stack or the smoke test failed.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from scripts._steps import StepFailed, Steps
from scripts.backups import backup, backup_data, backup_folder, backup_runner
from scripts.backups.backup_runner import CommandFailed, ComposeRunner, Runner, last_lines, run
from scripts.settings import envfiles, release
from scripts.stack import engine

STEPS = 10
# The services that write to the databases or the uploads, stopped while the data is replaced.
WRITERS = ("app", "scheduler", "glitchtip-web", "glitchtip-worker", "backup")
MIGRATIONS = ("app-migrate", "glitchtip-migrate")
INDENT = "      "


class Restore:
    def __init__(self, runner: Runner, config: backup.Settings, folder: Path, *, force: bool):
        self.runner = runner
        self.config = config
        self.env = config.env
        self.folder = folder
        self.force = force
        # Through the environment's compose stack: services to stop, migrate and start (None: --direct).
        self.stack = runner if isinstance(runner, ComposeRunner) else None
        self.steps = Steps("restore", STEPS)
        self.manifest: dict = {}
        self.safety_copy: Path | None = None

    def run(self) -> None:
        steps = self.steps
        with steps.step(f"check the backup {self.folder}") as out:
            out["result"] = self.check_backup()
        with steps.step(f"check the target ({self.runner.where()})") as out:
            out["result"], occupied = self.check_target()
        with steps.step("back up the target first") as out:
            out["result"] = self.back_up_target() if occupied else "not needed: it is empty"
        with steps.step(f"stop what writes ({', '.join(WRITERS)})") as out:
            out["result"] = self.stop_writers()
        for database in self.config.databases:
            with steps.step(f"restore {database.title} ({database.name})") as out:
                out["result"] = self.restore_database(database)
        with steps.step("restore GlitchTip's uploads") as out:
            out["result"] = self.restore_uploads()
        with steps.step(f"migrations ({', '.join(MIGRATIONS)})") as out:
            out["result"] = self.migrate()
        with steps.step("row counts against the manifest") as out:
            out["result"] = self.compare_counts()
        with steps.step(f"start everything, provision GlitchTip, smoke test (scripts/up {self.env})") as out:
            out["result"] = self.start()

    # ---- 1, 2, 3: only reading, then a backup of the target -------------------------
    def check_backup(self) -> str:
        needed = [d.file for d in self.config.databases] + [backup_folder.UPLOADS]
        try:
            self.manifest = backup_folder.verify(self.folder, needed)
        except backup_folder.BackupInvalid as error:
            raise StepFailed(3, error.problem, error.fix) from None
        for database in self.config.databases:
            try:
                backup_data.check_archive(self.runner, self.folder / database.file, database.title)
            except CommandFailed as error:
                raise StepFailed(3, f"{database.file} cannot be read by the target's pg_restore: {error.detail}",
                                 "restore it into a server of the version it was made with "
                                 f"({self.manifest.get('postgres_server_version')})") from None
        made = self.manifest.get("environment")
        note = f", made in {made}" if made != self.env else ""
        if (self.folder / backup_folder.SECRETS_COPY).exists():
            note += f"; it holds a copy of the secrets file ({backup_folder.SECRETS_COPY}), not applied"
        return f"intact: {len(self.manifest['files'])} files, started {self.manifest.get('started')}{note}"

    def check_target(self) -> tuple[str, bool]:
        try:
            version = backup_data.server_version(self.runner)
        except CommandFailed as error:
            raise StepFailed(4, f"cannot reach {self.runner.where()}: {error.detail}",
                             self.runner.unreachable_fix()) from None
        entries = self.manifest["databases"]
        for database in self.config.databases:
            if entries[database.key]["name"] != database.name:
                raise StepFailed(4, f"the backup holds {database.title} as {entries[database.key]['name']!r}, "
                                    f"but {self.env} names it {database.name!r}",
                                 "set APP_DB_NAME / GLITCHTIP_DB_NAME in env/ENV.env as they were in the backup")
        roles = sorted({entries[d.key]["owner"] for d in self.config.databases})
        try:
            missing = backup_data.missing_roles(self.runner, roles)
            rows = {d.title: backup_data.current_counts(self.runner, d) for d in self.config.databases}
        except CommandFailed as error:
            raise StepFailed(4, f"{error.what} failed: {error.detail}", self.runner.unreachable_fix()) from None
        if missing:
            raise StepFailed(4, f"role(s) {', '.join(missing)} do not exist on the target",
                             "postgres/initdb.d creates them on the first start of an empty volume: start the "
                             f"stack's database once (scripts/compose {self.env} up --detach --wait postgres), with "
                             "APP_DB_USER and GLITCHTIP_DB_USER as they were when the backup was made")
        occupied = {title: counts for title, counts in rows.items() if any(counts.values())}
        if occupied and not self.force:
            described = "; ".join(f"{title}: " + ", ".join(f"{t} {n}" for t, n in counts.items() if n)
                                  for title, counts in occupied.items())
            raise StepFailed(5, f"the target is not empty ({described})",
                             "restore into an empty stack, or pass --force: the target is then backed up first "
                             "and replaced")
        state = "has data (--force)" if occupied else "empty"
        return f"PostgreSQL {version}, roles {', '.join(roles)} exist, {state}", bool(occupied)

    def back_up_target(self) -> str:
        print()
        try:
            # Not pruned: the backup being restored may be the oldest one kept.
            self.safety_copy = backup.take_backup(self.runner, self.config, Steps("backup", backup.STEPS, INDENT),
                                                  label="before-restore", keep_all=True)
        except StepFailed as error:
            raise StepFailed(6, f"the backup of the target failed: {error.problem}", error.fix) from None
        return f"{INDENT}the target's data before the restore: {self.safety_copy}"

    # ---- 4 to 10: replacing the data ---------------------------------------------------
    def compose_run(self, *args: str, what: str) -> subprocess.CompletedProcess:
        assert self.stack is not None
        return run(self.stack.compose(*args), what=what)

    def stop_writers(self) -> str:
        if self.stack is None:
            return "skipped (--direct: no services)"
        defined = set(engine.resolved_config(self.env).get("services", {}))
        writers = [service for service in WRITERS if service in defined]
        try:
            self.compose_run("stop", *writers, what="docker compose stop")
        except CommandFailed as error:
            raise StepFailed(7, f"could not stop {', '.join(writers)}: {error.detail}",
                             f"check scripts/compose {self.env} ps; nothing was changed yet") from None
        return f"stopped {', '.join(writers)}"

    def half_done(self) -> str:
        before = f"; the target's data before the restore is in {self.safety_copy}" if self.safety_copy else ""
        return f"fix the cause and run the restore again (with --force){before}"

    def restore_database(self, database: backup_data.Database) -> str:
        try:
            backup_data.restore(self.runner, database, self.folder / database.file)
        except CommandFailed as error:
            raise StepFailed(8, f"{error.what} failed: {error.detail}", self.half_done()) from None
        return f"{sum(self.manifest['databases'][database.key]['tables'].values())} rows in the main tables"

    def restore_uploads(self) -> str:
        try:
            backup_data.restore_uploads(self.runner, self.folder / backup_folder.UPLOADS)
        except CommandFailed as error:
            raise StepFailed(9, f"{error.what} failed: {error.detail}", self.half_done()) from None
        return f"{self.manifest['uploads']['files']} files"

    def migrate(self) -> str:
        if self.stack is None:
            return "skipped (--direct: no services)"
        applied = []
        if not envfiles.release_file(self.env).exists():
            # A new machine: the app's migrations run in the image of this checkout, which the
            # last step's scripts/up builds and records in GlitchTip anyway.
            values = release.write(self.env, release.commit_name())
            applied.append(f"release layer written ({values['SENTRY_RELEASE']})")
        for service in MIGRATIONS:
            try:
                result = self.compose_run("run", "--rm", service, what=service)
            except CommandFailed as error:
                raise StepFailed(10, f"{service} failed: {error.detail}",
                                 f"scripts/compose {self.env} run --rm {service} shows the whole output; the data "
                                 "is restored, the schema is not up to date") from None
            applied.append(f"{service} {result.stdout.count('Applying ')} applied")
        return ", ".join(applied)

    def compare_counts(self) -> str:
        differences = []
        total = 0
        try:
            for database in self.config.databases:
                expected = self.manifest["databases"][database.key]["tables"]
                found = backup_data.current_counts(self.runner, database)
                total += sum(found.values())
                differences += [f"{table}: {count} in the backup, {found.get(table)} now"
                                for table, count in expected.items() if found.get(table) != count]
            uploads = backup_data.count_uploads(self.runner)
        except CommandFailed as error:
            raise StepFailed(11, f"{error.what} failed: {error.detail}", self.half_done()) from None
        if uploads != self.manifest["uploads"]["files"]:
            differences.append(f"uploads: {self.manifest['uploads']['files']} files in the backup, {uploads} now")
        if differences:
            raise StepFailed(11, "the restored data differs from the manifest: " + "; ".join(differences),
                             "if the migrations of a newer release explain it, start the stack with scripts/up "
                             f"{self.env}; otherwise {self.half_done()}")
        return f"all {total} rows and {uploads} uploads are back"

    def start(self) -> str:
        if self.stack is None:
            return "skipped (--direct: no services)"
        print()
        # scripts/up starts everything, re-links the secrets file with the restored GlitchTip
        # (bootstrap-glitchtip: a token and DSN that exist there) and runs the smoke test.
        process = subprocess.Popen([str(envfiles.REPO / "scripts" / "up"), self.env], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            print(f"{INDENT}{line}", end="", flush=True)
            lines.append(line)
        if process.wait() != 0:
            raise StepFailed(12, f"scripts/up {self.env} failed: {last_lines(''.join(lines), 2)}",
                             f"the data is restored; fix what scripts/up reports above and run scripts/up {self.env}")
        return f"{INDENT}the stack runs and the smoke test passed"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="restore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", help="development, staging or production")
    parser.add_argument("folder", type=Path, help="the backup, e.g. backups/production/20261129T023000Z")
    parser.add_argument("--force", action="store_true",
                        help="replace a target that has data (it is backed up first)")
    parser.add_argument("--direct", action="store_true",
                        help="a bare server: Postgres through PG* variables, uploads in BACKUP_UPLOADS_DIR, "
                             "settings from the environment, no services to stop or start")
    args = parser.parse_args(argv[1:])
    try:
        env = envfiles.environment(args.env)
        runner, values = backup_runner.chosen(env, args.direct)
        restore = Restore(runner, backup.settings(env, values), args.folder.resolve(), force=args.force)
    except envfiles.EnvError as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 2
    print(f"restore {restore.folder} -> {env}")
    try:
        restore.run()
    except StepFailed as error:
        return restore.steps.fail(error)
    print(f"Done: {env} holds the data of {restore.folder.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
