"""What a backup holds, read and put back: both databases (psycopg, and PostgreSQL's own pg_dump and
pg_restore) and GlitchTip's uploads (a tar).

The server is the one libpq's variables reach (PGHOST, PGPORT, PGUSER, PGPASSWORD), as the superuser:
it reads and recreates both databases, whoever owns them. A dump and its row counts come from one
snapshot: a transaction exports it, counts, and pg_dump reads with `--snapshot`, so the counts in
the manifest are exactly the rows in the file while the app and GlitchTip keep writing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# The main tables, whose rows the manifest counts and a restore compares: the app's (Django's names)
# and GlitchTip's (its migrations' names; events, transactions and checks are partitioned, counted
# through their parent). A table that a version lacks is left out.
APP_TABLES = (
    "auth_user",
    "accounts_healthprofile",
    "forecast_location",
    "forecast_weatherforecast",
    "forecast_prediction",
    "forecast_notification",
    "forecast_notification_predictions",
    "forecast_comparisonreport",
)
GLITCHTIP_TABLES = (
    "users_user",
    "organizations_ext_organization",
    "organizations_ext_organizationuser",
    "teams_team",
    "projects_project",
    "projects_projectkey",
    "api_tokens_apitoken",
    "alerts_projectalert",
    "releases_release",
    "issue_events_issue",
    "issue_events_issueevent",
    "performance_transactionevent",
    "uptime_monitor",
    "uptime_monitorcheck",
    "files_file",
)
LOCK_WAIT = "300s"  # a backup does not wait forever for a table that a migration holds locked


class DataError(Exception):
    """A database or uploads operation that failed: `what` was done, and the server's or tool's `detail`."""

    def __init__(self, what: str, detail: str):
        super().__init__(f"{what}: {detail}")
        self.what, self.detail = what, detail


@dataclass(frozen=True)
class Database:
    key: str  # "app" or "glitchtip": its entry in the manifest; its dump is <key>.dump
    title: str
    name: str  # on the server
    tables: tuple[str, ...]

    @property
    def file(self) -> str:
        return f"{self.key}.dump"


def databases(values: Mapping[str, str]) -> list[Database]:
    return [
        Database("app", "the app's database", values.get("APP_DB_NAME") or "app", APP_TABLES),
        Database("glitchtip", "GlitchTip's database", values.get("GLITCHTIP_DB_NAME") or "glitchtip", GLITCHTIP_TABLES),
    ]


def use_password_file() -> None:
    """A Docker secret (Swarm, scripts/swarm/swarm_stack.py): libpq reads PGPASSWORD, not a file of it."""
    if os.environ.get("PGPASSWORD_FILE") and not os.environ.get("PGPASSWORD"):
        os.environ["PGPASSWORD"] = Path(os.environ.pop("PGPASSWORD_FILE")).read_text().rstrip("\n")


def where() -> str:
    return f"Postgres at {os.environ.get('PGHOST', 'localhost')}:{os.environ.get('PGPORT', '5432')}"


def connect(database: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dbname=database, connect_timeout=10, application_name="backup", autocommit=True)
    except psycopg.OperationalError as error:
        raise DataError(f"connecting to {where()}", last_lines(str(error))) from None


def value(database: str, query: str, *params: object) -> object:
    with connect(database) as connection:
        return connection.execute(query, params).fetchone()[0]  # type: ignore[index]


def version() -> str:
    return str(value("postgres", "SHOW server_version"))


def missing_roles(roles: list[str]) -> list[str]:
    found = value("postgres", "SELECT array_agg(rolname) FROM pg_roles WHERE rolname = ANY(%s)", roles) or []
    return [role for role in roles if role not in found]  # type: ignore[operator]


def counts(database: Database) -> dict[str, int]:
    """Rows of the main tables now; {} when the database does not exist."""
    if not value("postgres", "SELECT count(*) FROM pg_database WHERE datname = %s", database.name):
        return {}
    with connect(database.name) as connection:
        return count_rows(connection, database.tables)


def count_rows(connection: psycopg.Connection, tables: tuple[str, ...]) -> dict[str, int]:
    present = {
        row[0]
        for row in connection.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)",
            [list(tables)],
        )
    }
    if not present:
        return {}
    return dict(
        connection.execute(
            sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(table), sql.Identifier(table))
                for table in tables
                if table in present
            )
        )
    )


def dump(database: Database, folder: Path) -> dict:
    """pg_dump of `database` into folder/<key>.dump, and its manifest entry (counts from the same snapshot)."""
    with connect(database.name) as connection:
        connection.execute("SELECT set_config('lock_timeout', %s, false)", [LOCK_WAIT])
        connection.isolation_level, connection.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
        with connection.transaction():
            snapshot, owner, has_migrations = connection.execute(
                "SELECT pg_export_snapshot(), pg_get_userbyid(datdba), to_regclass('django_migrations') IS NOT NULL "
                "FROM pg_database WHERE datname = current_database()"
            ).fetchone()  # type: ignore[misc]
            entry = {
                "name": database.name,
                "owner": owner,
                "file": database.file,
                "tables": count_rows(connection, database.tables),
                # The newest migration of each Django app: which version of the code the data belongs to.
                "migrations": dict(
                    connection.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
                )
                if has_migrations
                else {},
            }
            write(
                [
                    "pg_dump",
                    "--dbname",
                    database.name,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--lock-wait-timeout={LOCK_WAIT}",
                ],
                folder / database.file,
                f"pg_dump of {database.title}",
            )
    return entry


def write(argv: list[str], path: Path, what: str) -> None:
    """The command's output into `path` (mode 600), written here so that a full disk is our OSError."""
    with (
        open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out,
        tempfile.TemporaryFile() as errors,
    ):
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            shutil.copyfileobj(process.stdout, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            process.kill()
            raise
        finally:
            process.wait()
        if process.returncode != 0:
            errors.seek(0)
            raise DataError(what, last_lines(errors.read().decode(errors="replace")))


def run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise DataError(what, last_lines(result.stderr or result.stdout))
    return result.stdout


def check_archive(path: Path) -> None:
    """This server's pg_restore reads the archive's table of contents."""
    run(["pg_restore", "--list", str(path)], f"pg_restore --list of {path.name}")


def restore(database: Database, path: Path) -> None:
    """Drop the database (ending its sessions) and create it again from the dump, as it was: owner,
    privileges, every row. Its owner role must exist: postgres/initdb.d creates it."""
    with connect("postgres") as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name)))
    run(
        ["pg_restore", "--dbname", "postgres", "--create", "--exit-on-error", str(path)],
        f"pg_restore of {database.title}",
    )


def dump_uploads(uploads: Path, path: Path) -> dict:
    """GlitchTip's uploads (source maps, debug files; the database rows point at them) as a tar."""
    files: list[tarfile.TarInfo] = []

    def counted(member: tarfile.TarInfo) -> tarfile.TarInfo:
        if member.isfile():
            files.append(member)
        return member

    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        with tarfile.open(fileobj=out, mode="w") as archive:
            archive.add(uploads, arcname=".", filter=counted)
        out.flush()
        os.fsync(out.fileno())
    return {"file": path.name, "files": len(files), "bytes": sum(member.size for member in files)}


def restore_uploads(path: Path, uploads: Path) -> None:
    """Empty the uploads folder, then unpack the backup's tar into it, owners included (GlitchTip's
    user writes there). Only files and folders inside it: so the archive can be trusted (as Python
    3.14's default filter would not let it be: it drops the owners)."""
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        for member in members:
            if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name.split("/"):
                raise DataError("unpacking GlitchTip's uploads", f"{member.name!r} is not a file inside the folder")
        for child in uploads.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        archive.extractall(uploads, members, numeric_owner=True, **trusted)  # type: ignore[arg-type]


def count_uploads(uploads: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(uploads))


def last_lines(text: str, count: int = 6) -> str:
    return " | ".join([line for line in text.strip().splitlines() if line.strip()][-count:]) or "(no message)"
