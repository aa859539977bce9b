"""What a backup holds, and how each part is read and put back: the two databases and GlitchTip's uploads.

A dump and its row counts come from the same snapshot: a psql session opens a REPEATABLE READ
transaction, exports its snapshot, counts, and pg_dump reads with `--snapshot`. So the counts in
the manifest are exactly the rows in the file, even while the app and GlitchTip keep writing.
"""
from __future__ import annotations

import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scripts.backups.backup_folder import UPLOADS
from scripts.backups.backup_runner import Runner, Session, run, stream_from_file, stream_to_file

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
# A dump does not wait forever for a table that a migration holds locked.
LOCK_WAIT = "300s"


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


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def count_rows(session: Session, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows of each of `tables` that exists (a table of another version may not)."""
    names = ", ".join(literal(t) for t in tables)
    present = {row[0] for row in session.query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname IN ({names})")}
    existing = [t for t in tables if t in present]
    if not existing:
        return {}
    rows = session.query(" UNION ALL ".join(f"SELECT {literal(t)}, count(*) FROM {quoted(t)}" for t in existing))
    return {name: int(count) for name, count in rows}


def latest_migrations(session: Session) -> dict[str, str]:
    """The newest migration of each Django app: which version of the code the data belongs to."""
    if session.value("SELECT to_regclass('public.django_migrations') IS NOT NULL") != "t":
        return {}
    return dict(session.query("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app"))


def server_version(runner: Runner) -> str:
    with Session(runner, "postgres") as session:
        return session.value("SHOW server_version")


def dump(runner: Runner, database: Database, folder: Path) -> dict:
    """pg_dump of `database` into folder/<key>.dump, and its manifest entry (counts from the same snapshot)."""
    with Session(runner, database.name) as session:
        session.query(f"SET lock_timeout = {literal(LOCK_WAIT)}")
        session.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = session.value("SELECT pg_export_snapshot()")
        counts = count_rows(session, database.tables)
        owner = session.value("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
        migrations = latest_migrations(session)
        written = stream_to_file(
            runner.postgres("pg_dump", "--dbname", database.name, "--format=custom", f"--snapshot={snapshot}",
                            f"--lock-wait-timeout={LOCK_WAIT}"),
            folder / database.file, f"pg_dump of {database.title}")
        session.query("COMMIT")
    return {"name": database.name, "owner": owner, "file": database.file, "bytes": written.size,
            "sha256": written.sha256, "tables": counts, "migrations": migrations}


def current_counts(runner: Runner, database: Database) -> dict[str, int]:
    """Rows of the main tables now; {} when the database does not exist."""
    with Session(runner, "postgres") as session:
        exists = session.value(f"SELECT count(*) FROM pg_database WHERE datname = {literal(database.name)}")
    if exists != "1":
        return {}
    with Session(runner, database.name) as session:
        return count_rows(session, database.tables)


def missing_roles(runner: Runner, roles: list[str]) -> list[str]:
    with Session(runner, "postgres") as session:
        found = {row[0] for row in session.query(
            f"SELECT rolname FROM pg_roles WHERE rolname IN ({', '.join(literal(r) for r in roles)})")}
    return [role for role in roles if role not in found]


def check_archive(runner: Runner, path: Path, what: str) -> int:
    """pg_restore reads the archive's table of contents: the file is a dump this server's tools can
    restore. Returns the number of entries."""
    listing = stream_from_file(runner.postgres("pg_restore", "--list"), path, f"pg_restore --list of {what}")
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def restore(runner: Runner, database: Database, path: Path) -> None:
    """Drop the database and create it again from the dump, as it was: owner, privileges, every row.

    pg_restore --create --clean recreates the database from the archive's own definition (its
    owner role must exist: postgres/initdb.d creates it); other sessions are ended first, since a
    database in use cannot be dropped.
    """
    run(runner.postgres("psql", "--dbname", "postgres", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1"),
        input="SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
              f"WHERE datname = {literal(database.name)} AND pid <> pg_backend_pid();\n",
        what=f"ending the sessions on {database.title}")
    stream_from_file(runner.postgres("pg_restore", "--dbname", "postgres", "--create", "--clean", "--if-exists",
                                     "--exit-on-error"),
                     path, f"pg_restore of {database.title}")



def dump_uploads(runner: Runner, folder: Path) -> dict:
    """GlitchTip's uploads (source maps, debug files; the database rows point at them) as a tar."""
    path = folder / UPLOADS
    stream_to_file(runner.uploads("tar", "-c", "-f", "-", "-C", runner.uploads_dir, "."), path,
                   "tar of GlitchTip's uploads")
    with tarfile.open(path) as archive:
        files = [member for member in archive.getmembers() if member.isfile()]
    return {"file": UPLOADS, "files": len(files), "bytes": sum(member.size for member in files)}


def restore_uploads(runner: Runner, path: Path) -> None:
    """Empty the uploads folder, then unpack the backup's tar into it."""
    run(runner.uploads("find", runner.uploads_dir, "-mindepth", "1", "-delete"), what="emptying the uploads folder")
    stream_from_file(runner.uploads("tar", "-x", "-f", "-", "-C", runner.uploads_dir), path,
                     "unpacking GlitchTip's uploads")


def count_uploads(runner: Runner) -> int:
    listing = run(runner.uploads("find", runner.uploads_dir, "-type", "f"), what="listing the uploads").stdout
    return len(listing.splitlines())
