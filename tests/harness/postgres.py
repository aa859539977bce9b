"""A throwaway PostgreSQL server from Debian's binaries, initialised by the bundle's own init script."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.harness.processes import REPO, ReservedPort, as_unprivileged, stop, wait_for_port

INIT_SCRIPT = REPO / "postgres/initdb.d/10-create-databases.sh"


def _bindir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
    return candidates[-1]


class PostgresServer:
    SUPERUSER = "postgres"

    def __init__(self, user: str = "postgres"):
        """Only reserves the port: `start` creates the cluster and runs the server."""
        self.bindir = _bindir()
        self.os_user = user
        self.reserved = ReservedPort()
        self.port = self.reserved.number
        self.workdir = ""
        self.process: subprocess.Popen | None = None

    def _run(self, argv, **kwargs):
        return subprocess.run(as_unprivileged(argv, self.os_user), check=True, capture_output=True, text=True, **kwargs)

    def start(self) -> PostgresServer:
        self.workdir = tempfile.mkdtemp(prefix="mf-postgres-")
        self.datadir = os.path.join(self.workdir, "data")
        if os.geteuid() == 0:
            shutil.chown(self.workdir, self.os_user)
        self._run(
            [
                f"{self.bindir}/initdb",
                "-D",
                self.datadir,
                "-U",
                self.SUPERUSER,
                # The superuser connects over the socket; every role of the bundle over TCP with its password.
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "-N",
            ]
        )
        self._serve()
        return self

    def _serve(self) -> None:
        self.process = subprocess.Popen(
            as_unprivileged(
                [
                    f"{self.bindir}/postgres",
                    "-D",
                    self.datadir,
                    "-p",
                    str(self.reserved.release()),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.workdir}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                self.os_user,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_port(self.port, self.process, what="postgres")
        self.wait_ready()

    def halt(self) -> None:
        """An outage: the server stops as `docker stop` stops the postgres image (a fast shutdown: sessions
        are ended), keeping its data and port; `resume` starts it again. pg_ctl signals the server itself
        (runuser, in between when we are root, does not pass SIGINT on)."""
        assert self.process is not None
        self._run([f"{self.bindir}/pg_ctl", "stop", "--pgdata", self.datadir, "--mode", "fast", "--wait"])
        self.process.wait(timeout=20)

    def resume(self) -> None:
        self._serve()

    def wait_ready(self):
        for _ in range(100):
            result = subprocess.run(
                [f"{self.bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not become ready")

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(
            [
                f"{self.bindir}/psql",
                "-h",
                self.workdir,
                "-p",
                str(self.port),
                "-U",
                self.SUPERUSER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ]
        ).stdout

    def run_init_script(self, script: Path, env: dict[str, str]) -> str:
        """Run a /docker-entrypoint-initdb.d script the way the official image does (psql on PATH, PG* set)."""
        script_env = {
            **os.environ,
            **env,
            "PATH": f"{self.bindir}:{os.environ['PATH']}",
            "PGHOST": self.workdir,
            "PGPORT": str(self.port),
            "POSTGRES_USER": self.SUPERUSER,
            "PGUSER": self.SUPERUSER,
            "POSTGRES_DB": "postgres",
        }
        return subprocess.run(
            as_unprivileged(["bash", str(script)], self.os_user),
            env=script_env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def initialise_bundle(self, app_password: str, glitchtip_password: str, superuser_password: str = "") -> None:
        """What the postgres image does on an empty volume: the superuser's password (POSTGRES_PASSWORD,
        for connections over TCP), then the bundle's init script (databases and roles of the app and GlitchTip)."""
        if superuser_password:
            self.psql(f"ALTER ROLE {self.SUPERUSER} PASSWORD '{superuser_password}'")
        self.run_init_script(
            INIT_SCRIPT, {"APP_DB_PASSWORD": app_password, "GLITCHTIP_DB_PASSWORD": glitchtip_password}
        )

    def client_environment(self, password: str) -> dict[str, str]:
        """libpq's variables for the superuser over TCP, with the server's client programs first on PATH."""
        return {
            **os.environ,
            "PATH": f"{self.bindir}:{os.environ['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": self.SUPERUSER,
            "PGPASSWORD": password,
        }

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self):
        if self.process:
            stop(self.process, timeout=20)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
