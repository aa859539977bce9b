"""scripts/backup and scripts/restore on the host of a Compose stack.

The data's part runs in a one-off container of the stack's backup service (`docker compose run
backup python -m scripts.backups.backup --direct`): the postgres image with Python, on the stack's
network, with the uploads volume and the backups folder mounted (the folder at its path on the host,
so that what the container prints is true here). Here is what only the host can do: which services
run and with which images, the secrets file, stopping the writers, the migrations, scripts/up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scripts.backups import archive, data
from scripts.backups.steps import Failed, check_backup, step
from scripts.settings import envfiles, release
from scripts.stack import app_image, engine
from scripts.tracker import smoke_test

# The services that write to the databases or the uploads, stopped while the data is replaced.
WRITERS = ("app", "scheduler", "glitchtip-web", "glitchtip-worker", "backup")
MIGRATIONS = ("app-migrate", "glitchtip-migrate")
UPLOADS = "/restore/uploads"  # where a restore's container mounts GlitchTip's uploads volume, writable
LONG = 6 * 3600  # a large database takes long to dump or restore; a stuck one still ends


def running_writers(rows: list[dict]) -> list[str]:
    """The writers among the running services of `compose ps --format json`, in stopping order."""
    running = {row["Service"] for row in rows if row.get("State") == "running"}
    return [service for service in WRITERS if service in running]


class Stack:
    def __init__(self, env: str):
        self.env = envfiles.environment(env)
        self.backups = envfiles.REPO / (envfiles.read_environment(self.env).get("BACKUP_DIR") or "backups")

    def compose(self, *args: str, timeout: float = 300, capture: bool = True) -> subprocess.CompletedProcess:
        return engine.compose(self.env, *args, timeout=timeout, capture=capture)

    def running(self) -> list[dict]:
        listed = engine.compose(self.env, "ps", "--format", "json", timeout=engine.QUERY_TIMEOUT, check=True)
        return [row for row in engine.ps_rows(listed.stdout) if row.get("State") == "running"]

    def prepare(self, code: int) -> None:
        """Postgres must run; the backup service's image is built (again, where this checkout changed it)."""
        if "postgres" not in {row["Service"] for row in self.running()}:
            raise Failed(
                code,
                f"the postgres service of the {self.env} stack is not running",
                f"start it: scripts/compose {self.env} up --detach --wait postgres (or scripts/up {self.env})",
            )
        fix = f"scripts/compose {self.env} build backup shows the whole output"
        if self.missing_images("backup"):
            # The first build (a new machine, a new release) installs Python and its packages: minutes,
            # so Compose's progress is shown. Afterwards a build only checks its cache: quiet.
            print("the backup service's image: building it", flush=True)
            engine.compose(self.env, "build", "backup", timeout=LONG, capture=False, check=True, fix=fix)
            return
        step(
            "the backup service's image",
            lambda: engine.compose(self.env, "build", "--quiet", "backup", timeout=LONG, check=True, fix=fix),
            lambda _: "built",
        )

    def missing_images(self, *services: str) -> list[str]:
        """The images that these services and their dependencies run and that are not here yet."""
        listed = self.compose("config", "--images", *services, timeout=engine.QUERY_TIMEOUT)
        if listed.returncode != 0:
            raise Failed(2, f"docker compose config failed: {engine.last_lines(listed.stderr)}", "see above")
        wanted = listed.stdout.split()
        found = engine.image_ids(*wanted)
        return [image for image in wanted if image not in found]

    def in_container(self, module: str, *args: str, mounts: dict[str, str], environment: dict[str, str]) -> int:
        """`python -m scripts.backups.<module> --direct args` in a one-off container of the backup
        service, its output straight to ours; its exit status."""
        rows = self.running()
        archive.private_folder(self.backups)  # made here: owned by the operator, not by the container's root
        environment = {
            **environment,
            "BACKUP_DIR": str(self.backups),
            "BACKUP_IMAGES": json.dumps({row["Service"]: row["Image"] for row in rows}, sort_keys=True),
        }
        options = [
            f"--volume={source}:{target}" for source, target in {str(self.backups): str(self.backups), **mounts}.items()
        ]
        options += [f"--env={name}={value}" for name, value in environment.items()]
        sys.stdout.flush()
        status = self.compose(
            "run",
            "--rm",
            "--no-deps",
            "-T",
            *options,
            "backup",
            "python",
            "-m",
            f"scripts.backups.{module}",
            "--direct",
            *args,
            timeout=LONG,
            capture=False,
        ).returncode
        if status not in (0, 2, 3, 4, 5, 6, 8, 9, 11):  # not one of ours: Compose's own
            raise Failed(
                status,
                f"the backup service's container did not run (docker compose run: exit {status})",
                "read Compose's message above",
            )
        return status

    def stop_writers(self) -> str:
        writers = running_writers(self.running())
        if writers and self.compose("stop", *writers).returncode != 0:
            raise Failed(
                7,
                f"could not stop {', '.join(writers)}",
                f"check scripts/compose {self.env} ps; nothing was changed yet",
            )
        return f"stopped {', '.join(writers)}" if writers else "nothing was running"

    def name_release(self) -> None:
        """Name the release after the checkout (env/ENV.release.env, as scripts/up's step 3 does, which
        deploys it at the end): every image the restore builds or runs is this checkout's. The layer may
        name another release: after `git checkout` of an older one (a rollback) the newer one's
        migrations would run on the restored data; on a new machine there is no layer yet."""
        named = release.write(self.env, release.commit_name())
        print(f"the release of this checkout ... {named['SENTRY_RELEASE']} (env/{self.env}.release.env)", flush=True)

    def images(self) -> None:
        """The images the migrations run in, made here with Compose's progress shown: the app's built and
        GlitchTip's pulled take minutes on a new machine, which `compose run` would spend silently."""
        print("the images the migrations run in:", flush=True)
        if app_image.build_unless_there(self.env) != 0:
            raise Failed(
                10,
                "the app's image could not be built",
                f"scripts/compose {self.env} build app shows where it stops; no data was changed yet",
            )
        if missing := self.missing_images(*MIGRATIONS):
            print(f"pulling {', '.join(missing)}", flush=True)
            # The app's image is built, not pulled; the dependencies (Valkey) come along.
            pulled = self.compose(
                "pull", "--ignore-buildable", "--include-deps", *MIGRATIONS, timeout=LONG, capture=False
            )
            if pulled.returncode != 0:
                raise Failed(
                    10,
                    f"could not pull {', '.join(missing)} (docker compose pull: exit {pulled.returncode})",
                    "read Compose's message above; no data was changed yet",
                )

    def migrate(self) -> str:
        done = []
        for service in MIGRATIONS:
            result = self.compose("run", "--rm", service, timeout=LONG)
            if result.returncode != 0:
                raise Failed(
                    10,
                    f"{service} failed: {data.last_lines(result.stderr or result.stdout)}",
                    f"scripts/compose {self.env} run --rm {service} shows the whole output; the data is "
                    "restored, the schema is not up to date",
                )
            done.append(service)
        return ", ".join(done) + " done"

    def start(self) -> str:
        """scripts/up starts everything, re-links the secrets file with the restored GlitchTip
        (bootstrap-glitchtip: a token and DSN that exist there) and runs the smoke test: not skipped
        as "verified", since the containers are the same but GlitchTip's data is not."""
        smoke_test.verified_file(self.env).unlink(missing_ok=True)
        print(flush=True)
        result = engine.run([str(envfiles.REPO / "scripts" / "up"), self.env], timeout=LONG, capture=False)
        if result.returncode != 0:
            raise Failed(
                12,
                f"scripts/up {self.env} failed (exit {result.returncode})",
                f"the data is restored; fix what scripts/up reports above and run scripts/up {self.env}",
            )
        return "the stack runs and the smoke test passed"


def backup(env: str, *, include_secrets: bool) -> int:
    try:
        stack = Stack(env)
        secrets = envfiles.secrets_file(stack.env)
        if include_secrets and not secrets.exists():
            raise Failed(2, f"there is no {secrets}", "run scripts/secrets ENV, or leave out --include-secrets")
        stack.prepare(3)
        return stack.in_container(
            "backup",
            mounts={str(secrets): f"{secrets}:ro"} if include_secrets else {},
            environment={"BACKUP_SECRETS_FILE": str(secrets)} if include_secrets else {},
        )
    except envfiles.EnvError as error:  # the environment's files, or Docker (engine.EngineError)
        return Failed(2, str(error), "see above; docs/operations/environments.md").report("backup")
    except Failed as error:
        return error.report("backup")


def restore(env: str, folder: Path, *, force: bool) -> int:
    try:
        stack = Stack(env)
        print(f"restore {folder} -> {stack.env}")
        check_backup(folder)  # before Docker is asked anything
        stack.name_release()
        stack.prepare(4)
        run = [stack.env, str(folder), *(["--force"] if force else [])]
        where = {
            "mounts": {str(folder): f"{folder}:ro", "glitchtip-uploads": UPLOADS},
            "environment": {"BACKUP_UPLOADS_DIR": UPLOADS},
        }
        if status := stack.in_container("restore", *run, "--part=check", **where):
            return status
        stack.images()  # before the writers stop: a build or pull takes minutes on a new machine
        step(f"stop what writes ({', '.join(WRITERS)})", stack.stop_writers)
        if status := stack.in_container("restore", *run, "--part=replace", **where):
            return status
        step(f"migrations ({', '.join(MIGRATIONS)})", stack.migrate)
        step(f"start everything, provision GlitchTip, smoke test (scripts/up {stack.env})", stack.start)
    except envfiles.EnvError as error:  # the environment's files, or Docker (engine.EngineError)
        return Failed(2, str(error), "see above; docs/operations/environments.md").report("restore")
    except Failed as error:
        return error.report("restore")
    print(f"Done: {stack.env} holds the data of {folder.name}.")
    return 0
