"""scripts/backup and scripts/restore on the host of a Compose stack.

The data's part runs where the data is reachable: in a one-off container of the stack's backup
service (`docker compose run backup python -m scripts.backups.backup --direct`), the postgres
service's own image with Python, on the stack's network, with the uploads volume and the backups
folder mounted (at the same path as on the host, so that what it prints is true here too). What
only the host can do happens here: which services run and with which images, the secrets file,
stopping the writers, the migrations, and scripts/up.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scripts.backups import archive, data
from scripts.backups.backup import Failed, step
from scripts.settings import envfiles, release
from scripts.stack import engine

# The services that write to the databases or the uploads, stopped while the data is replaced.
WRITERS = ("app", "scheduler", "glitchtip-web", "glitchtip-worker", "backup")
MIGRATIONS = ("app-migrate", "glitchtip-migrate")
UPLOADS = "/restore/uploads"  # where a restore's container mounts GlitchTip's uploads volume, writable
DATA_TIMEOUT = 6 * 3600  # a dump or restore of a large database takes long; a stuck one still ends
INDENT = "      "


def running_writers(rows: list[dict]) -> list[str]:
    """The writers among the running services of `compose ps --format json`, in stopping order."""
    running = {row["Service"] for row in rows if row.get("State") == "running"}
    return [service for service in WRITERS if service in running]


class Stack:
    def __init__(self, env: str):
        self.env = env
        self.values = envfiles.read_environment(env)
        self.backups = envfiles.REPO / (self.values.get("BACKUP_DIR") or "backups")

    def compose(self, *args: str, timeout: float = 120, capture: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(engine.command(self.env, *args), capture_output=capture, text=True, timeout=timeout)

    def running(self) -> list[dict]:
        result = self.compose("ps", "--format", "json")
        if result.returncode != 0:
            raise Failed(2, f"docker compose ps failed: {data.last_lines(result.stderr)}",
                         "check that Docker runs (docker info) and the env files (scripts/check-env)")
        return engine.ps_rows(result.stdout)

    def about(self, rows: list[dict], code: int) -> dict[str, str]:
        """What the manifest says of the stack: the images of the running services and the app's
        release (the running container's, else the release layer's); refused if Postgres is down."""
        if not any(row["Service"] == "postgres" and row.get("State") == "running" for row in rows):
            raise Failed(code, f"the postgres service of the {self.env} stack is not running",
                         f"start it: scripts/compose {self.env} up --detach --wait postgres (or scripts/up {self.env})")
        about = {"BACKUP_IMAGES": json.dumps({row["Service"]: row["Image"] for row in rows
                                              if row.get("State") == "running"}, sort_keys=True)}
        app = [row["ID"] for row in rows if row["Service"] == "app" and row.get("State") == "running"]
        inspected = engine.docker("inspect", "--format", "{{json .Config.Env}}", *app[:1]) if app else None
        if inspected is not None and inspected.returncode == 0:
            variables = dict(item.split("=", 1) for item in json.loads(inspected.stdout))
            about["SENTRY_RELEASE"] = variables.get("SENTRY_RELEASE", "")
        return about

    def in_container(self, module: str, *args: str, mounts: dict[str, str], environment: dict[str, str]) -> int:
        """`python -m scripts.backups.<module> --direct args` in a one-off container of the backup
        service (built first if this checkout changed it); its output goes straight to ours."""
        options = [f"--volume={source}:{target}" for source, target in mounts.items()]
        options += [f"--env={name}={value}" for name, value in environment.items()]
        sys.stdout.flush()
        return self.compose("run", "--rm", "--no-deps", "--build", "-T", *options, "backup", "python", "-m",
                            f"scripts.backups.{module}", "--direct", *args, timeout=DATA_TIMEOUT,
                            capture=False).returncode

    def stop_writers(self) -> str:
        writers = running_writers(self.running())
        if not writers:
            return "nothing was running"
        result = self.compose("stop", *writers)
        if result.returncode != 0:
            raise Failed(7, f"could not stop {', '.join(writers)}: {data.last_lines(result.stderr)}",
                         f"check scripts/compose {self.env} ps; nothing was changed yet")
        return f"stopped {', '.join(writers)}"

    def migrate(self) -> str:
        done = []
        if not envfiles.release_file(self.env).exists():
            # A new machine: the app's migrations run in the image of this checkout, which scripts/up
            # (the last step) builds and records in GlitchTip anyway.
            done.append(f"release layer written ({release.write(self.env, release.commit_name())['SENTRY_RELEASE']})")
        for service in MIGRATIONS:
            result = self.compose("run", "--rm", service, timeout=DATA_TIMEOUT)
            if result.returncode != 0:
                raise Failed(10, f"{service} failed: {data.last_lines(result.stderr or result.stdout)}",
                             f"scripts/compose {self.env} run --rm {service} shows the whole output; the data is "
                             "restored, the schema is not up to date")
            done.append(service)
        return ", ".join(done) + " done"

    def start(self) -> str:
        """scripts/up starts everything, re-links the secrets file with the restored GlitchTip
        (bootstrap-glitchtip: a token and DSN that exist there) and runs the smoke test."""
        print()
        process = subprocess.Popen([str(envfiles.REPO / "scripts" / "up"), self.env], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            print(f"{INDENT}{line}", end="", flush=True)
            lines.append(line)
        if process.wait() != 0:
            raise Failed(12, f"scripts/up {self.env} failed: {data.last_lines(''.join(lines), 2)}",
                         f"the data is restored; fix what scripts/up reports above and run scripts/up {self.env}")
        return f"{INDENT}the stack runs and the smoke test passed"


def container_failed(code: int, script: str) -> int:
    """The exit status of a data container: its own (printed with its reason), else Compose's."""
    if code not in (0, 2, 3, 4, 5, 6, 8, 9, 11):
        print(f"{script}: the backup service's container did not run (docker compose run: exit {code})\n"
              "  Fix: read Compose's message above; scripts/compose ENV build backup builds its image", file=sys.stderr)
    return code


def backup(env: str, *, include_secrets: bool) -> int:
    try:
        env = envfiles.environment(env)
        stack = Stack(env)
        environment = stack.about(stack.running(), 3)
    except envfiles.EnvError as error:
        return Failed(2, str(error), "see README.md, Environments").report("backup")
    except Failed as error:
        return error.report("backup")
    backups = archive.private_folder(stack.backups)  # owned by the operator, not by the container's root
    mounts = {str(backups): str(backups)}
    environment["BACKUP_DIR"] = str(backups)
    if include_secrets:
        secrets = envfiles.secrets_file(env)
        if not secrets.exists():
            return Failed(2, f"there is no {secrets.relative_to(envfiles.REPO)}", "run scripts/secrets ENV, or "
                          "back up without --include-secrets").report("backup")
        mounts[str(secrets)] = f"{secrets}:ro"
        environment["BACKUP_SECRETS_FILE"] = str(secrets)
    print(f"backup {env} -> {backups / env} (in a container of the backup service)")
    return container_failed(stack.in_container("backup", mounts=mounts, environment=environment), "backup")


def restore(env: str, folder: Path, *, force: bool) -> int:
    try:
        env = envfiles.environment(env)
        stack = Stack(env)
        print(f"restore {folder} -> {env}")
        needed = [database.file for database in data.databases({})] + [archive.UPLOADS]
        try:
            step(f"check the backup {folder}", lambda: archive.verify(folder, needed),
                 lambda manifest: f"intact: {len(manifest['files'])} files, started {manifest.get('started')}")
        except archive.Invalid as error:
            raise Failed(3, error.problem, error.fix) from None
        environment = {**stack.about(stack.running(), 4), "BACKUP_DIR": str(archive.private_folder(stack.backups)),
                       "BACKUP_UPLOADS_DIR": UPLOADS}
        mounts = {str(stack.backups): str(stack.backups), str(folder): f"{folder}:ro", "glitchtip-uploads": UPLOADS}
        run = [env, str(folder), *(["--force"] if force else [])]
        if code := stack.in_container("restore", *run, "--part=check", mounts=mounts, environment=environment):
            return container_failed(code, "restore")
        step(f"stop what writes ({', '.join(WRITERS)})", stack.stop_writers)
        if code := stack.in_container("restore", *run, "--part=replace", mounts=mounts, environment=environment):
            return container_failed(code, "restore")
        step(f"migrations ({', '.join(MIGRATIONS)})", stack.migrate)
        step(f"start everything, provision GlitchTip, smoke test (scripts/up {env})", stack.start)
    except envfiles.EnvError as error:
        return Failed(2, str(error), "see README.md, Environments").report("restore")
    except Failed as error:
        return error.report("restore")
    print(f"Done: {env} holds the data of {folder.name}.")
    return 0
