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

# The main tables, whose rows the manifest counts and a restore compares (Django's names).
APP_TABLES = (
    "auth_user", "accounts_healthprofile", "forecast_location", "forecast_weatherforecast", "forecast_prediction",
    "forecast_notification", "forecast_notification_predictions", "forecast_comparisonreport",
)
# GlitchTip's, as its migrations name them (apps/*/models.py of its backend); events, transactions
# and monitor checks are partitioned tables, counted through their parent.
GLITCHTIP_TABLES = (
    "users_user", "organizations_ext_organization", "organizations_ext_organizationuser", "teams_team",
    "projects_project", "projects_projectkey", "api_tokens_apitoken", "alerts_projectalert", "releases_release",
    "issue_events_issue", "issue_events_issueevent", "performance_transactionevent", "uptime_monitor",
    "uptime_monitorcheck", "files_file",
)
# A backup does not wait forever for a table that a migration holds locked.
LOCK_WAIT = "300s"
# The uploads are restored as they were archived, owners included (GlitchTip's user must write
# there); the members are checked first, so the archive is trusted as Python 3.14's default would not.
TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


class DataError(Exception):
    """A database or uploads operation that failed: `what` was done, and the server's or tool's `detail`."""

    def __init__(self, what: str, detail: str):
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


@dataclass(frozen=True)
class Database:
    key: str  # "app" or "glitchtip": its entry in the manifest and the name of its dump file
    title: str
    name: str  # its name on the server
    tables: tuple[str, ...]

    @property
    def file(self) -> str:
        return f"{self.key}.dump"


def databases(values: Mapping[str, str]) -> list[Database]:
    """Both databases, named as the environment's settings name them."""
    return [Database("app", "the app's database", values.get("APP_DB_NAME") or "app", APP_TABLES),
            Database("glitchtip", "GlitchTip's database", values.get("GLITCHTIP_DB_NAME") or "glitchtip",
                     GLITCHTIP_TABLES)]


class Server:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = dict(environ)
        # A Docker secret (Swarm, scripts/swarm/swarm_stack.py): libpq reads PGPASSWORD, not a file of it.
        password_file = self.environ.pop("PGPASSWORD_FILE", "")
        if password_file and not self.environ.get("PGPASSWORD"):
            self.environ["PGPASSWORD"] = Path(password_file).read_text().rstrip("\n")

    def where(self) -> str:
        return f"Postgres at {self.environ.get('PGHOST', 'localhost')}:{self.environ.get('PGPORT', '5432')}"

    def connect(self, database: str, **options) -> psycopg.Connection:
        params = {"dbname": database, "connect_timeout": 10, "application_name": "backup", **options}
        # Given explicitly: psycopg's libpq would read the process's own environment.
        params.update({name: self.environ[variable] for name, variable in (
            ("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD"))
            if self.environ.get(variable)})
        try:
            return psycopg.connect(**params)
        except psycopg.OperationalError as error:
            raise DataError(f"connecting to {self.where()}", last_lines(str(error))) from None

    def value(self, database: str, query: str, *params) -> object:
        with self.connect(database, autocommit=True) as connection:
            row = connection.execute(query, params).fetchone()
        return row[0] if row else None

    def run(self, argv: list[str], what: str) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, env=self.environ)
        if result.returncode != 0:
            raise DataError(what, last_lines(result.stderr or result.stdout))
        return result.stdout

    def version(self) -> str:
        return str(self.value("postgres", "SHOW server_version"))

    def missing_roles(self, roles: list[str]) -> list[str]:
        with self.connect("postgres", autocommit=True) as connection:
            found = {row[0] for row in connection.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                                          [roles])}
        return [role for role in roles if role not in found]

    def counts(self, database: Database) -> dict[str, int]:
        """Rows of the main tables now; {} when the database does not exist."""
        if not self.value("postgres", "SELECT count(*) FROM pg_database WHERE datname = %s", database.name):
            return {}
        with self.connect(database.name, autocommit=True) as connection:
            return count_rows(connection, database.tables)

    def dump(self, database: Database, folder: Path) -> dict:
        """pg_dump of `database` into folder/<key>.dump, and its manifest entry (counts from the same snapshot)."""
        with self.connect(database.name, autocommit=True) as connection:
            connection.execute("SELECT set_config('lock_timeout', %s, false)", [LOCK_WAIT])
            # The transaction below starts as BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY.
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            connection.read_only = True
            with connection.transaction():
                snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
                counts = count_rows(connection, database.tables)
                owner = connection.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                           "WHERE datname = current_database()").fetchone()[0]  # type: ignore[index]
                migrations = latest_migrations(connection)
                self.write(["pg_dump", "--dbname", database.name, "--format=custom", f"--snapshot={snapshot}",
                            f"--lock-wait-timeout={LOCK_WAIT}"], folder / database.file, f"pg_dump of {database.title}")
        return {"name": database.name, "owner": owner, "file": database.file, "tables": counts,
                "migrations": migrations}

    def write(self, argv: list[str], path: Path, what: str) -> None:
        """The command's output into `path` (mode 600). Written here, not by the tool, so that a full
        disk is an OSError of ours (ENOSPC), not a message of the tool's to interpret."""
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out, \
                tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=self.environ)
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

    def check_archive(self, path: Path, what: str) -> int:
        """This server's pg_restore reads the archive's table of contents; returns its number of entries."""
        listing = self.run(["pg_restore", "--list", str(path)], f"pg_restore --list of {what}")
        return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))

    def restore(self, database: Database, path: Path) -> None:
        """Drop the database (ending its sessions) and create it again from the dump, as it was: owner,
        privileges, every row. Its owner role must exist: postgres/initdb.d creates it."""
        with self.connect("postgres", autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name)))
        self.run(["pg_restore", "--dbname", "postgres", "--create", "--exit-on-error", str(path)],
                 f"pg_restore of {database.title}")


def count_rows(connection: psycopg.Connection, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows of each of `tables` that exists (a table of another version may not)."""
    present = {row[0] for row in connection.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)", [list(tables)])}
    existing = [table for table in tables if table in present]
    if not existing:
        return {}
    query = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(table),
                                                                                      sql.Identifier(table))
                                        for table in existing)
    return {name: count for name, count in connection.execute(query)}


def latest_migrations(connection: psycopg.Connection) -> dict[str, str]:
    """The newest migration of each Django app: which version of the code the data belongs to."""
    if connection.execute("SELECT to_regclass('public.django_migrations')").fetchone()[0] is None:  # type: ignore[index]
        return {}
    return dict(connection.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app"))


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
    """Empty the uploads folder, then unpack the backup's tar into it."""
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
        archive.extractall(uploads, members, numeric_owner=True, **TRUSTED)  # type: ignore[arg-type]


def count_uploads(uploads: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(uploads))


def last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no message)"
