"""scripts/backup and scripts/restore against real Postgres servers initialised by the bundle's
postgres/initdb.d, as the postgres service's volume is: the app's real tables (its migrations), tables
shaped like GlitchTip's (a partitioned events table, pg_trgm), and an uploads folder.

The commands run with --direct (the backup service's way: libpq's PG* variables, a local uploads
folder); on a Docker engine the same code runs in a one-off container of the backup service
(scripts/backups/on_stack.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.backups import archive, schedule
from tests.harness.postgres import PostgresServer
from tests.harness.processes import REPO, free_port

APP = REPO / "app"

POPULATE_APP = """
from datetime import UTC, datetime, timedelta
from django.contrib.auth.models import User
from accounts.models import HealthProfile
from forecast.models import ComparisonReport, Location, Notification, Prediction, WeatherForecast
now = datetime(2026, 11, 28, 12, tzinfo=UTC)
for u in range(3):
    user = User.objects.create_user(f"user{u}", f"user{u}@example.com", "a-Long-test-passw0rd")
    HealthProfile.objects.create(user=user, sensitivity_pressure=u)
    for n in range(2):
        place = Location.objects.create(user=user, name=f"Place {u}-{n} «ü» | pipe", latitude=50 + u + n / 10,
                                        longitude=10 + n, timezone="Europe/Berlin")
        WeatherForecast.objects.bulk_create(
            WeatherForecast(location=place, target_time=now + timedelta(hours=h), temperature=5 + h / 3, humidity=80,
                            pressure_msl=1010 - h / 7, fetched_at=now) for h in range(48))
        found = [Prediction.objects.create(location=place, prediction_type=kind, risk_level="HIGH", window_start=now,
                                           window_end=now + timedelta(hours=3), source="rules", confidence=0.7,
                                           rationale="line one\\nline two, with a | and a tab\\t",
                                           factors=[{"name": "pressure_change", "score": 2}])
                 for kind in ("MIGRAINE", "SINUSITIS")]
        Notification.objects.create(user=user, subject="Risk ahead", sent_at=now).predictions.set(found)
        ComparisonReport.objects.create(location=place, period_start=now - timedelta(hours=6), period_end=now,
                                        hours_compared=6, anomalies=[{"field": "temperature", "diff": 11.5}])
"""

# Shaped like GlitchTip's main tables: a foreign key, jsonb, a trigram index, events partitioned by day.
GLITCHTIP_TABLES = """
SET ROLE glitchtip;
CREATE EXTENSION pg_trgm;
CREATE TABLE users_user (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, is_superuser boolean NOT NULL);
CREATE TABLE organizations_ext_organization (id serial PRIMARY KEY, name text NOT NULL, slug text UNIQUE);
CREATE TABLE projects_project (id serial PRIMARY KEY, name text NOT NULL,
                               organization_id int REFERENCES organizations_ext_organization (id));
CREATE TABLE issue_events_issue (id bigserial PRIMARY KEY, project_id int REFERENCES projects_project (id),
                                 title text NOT NULL, metadata jsonb NOT NULL);
CREATE INDEX issue_title_trgm ON issue_events_issue USING gin (title gin_trgm_ops);
CREATE TABLE issue_events_issueevent (id uuid NOT NULL, issue_id bigint NOT NULL, received timestamptz NOT NULL,
                                      data jsonb NOT NULL) PARTITION BY RANGE (received);
CREATE TABLE issue_events_issueevent_2026_nov_28 PARTITION OF issue_events_issueevent
    FOR VALUES FROM ('2026-11-28') TO ('2026-11-29');
CREATE TABLE issue_events_issueevent_2026_nov_29 PARTITION OF issue_events_issueevent
    FOR VALUES FROM ('2026-11-29') TO ('2026-11-30');
CREATE TABLE uptime_monitor (id serial PRIMARY KEY, name text NOT NULL, interval int NOT NULL);
INSERT INTO users_user (email, is_superuser) VALUES ('admin@example.com', true), ('ops@example.com', false);
INSERT INTO organizations_ext_organization (name, slug) VALUES ('Migraine Forecast', 'migraine-forecast');
INSERT INTO projects_project (name, organization_id) VALUES ('Forecast App', 1);
INSERT INTO issue_events_issue (project_id, title, metadata)
    SELECT 1, 'ZeroDivisionError: division by zero #' || g, jsonb_build_object('n', g, 'text', E'a\\nb|c')
    FROM generate_series(1, 40) g;
INSERT INTO issue_events_issueevent
    SELECT md5(g::text)::uuid, 1 + g % 40, timestamptz '2026-11-28 00:00+00' + g * interval '1 minute',
           jsonb_build_object('message', 'event ' || g) FROM generate_series(1, 2000) g;
INSERT INTO uptime_monitor (name, interval) VALUES ('app /healthz', 60), ('collect_weather_data', 3960);
"""


@dataclass
class Stack:
    """A stack's data: a Postgres initialised like the postgres service's volume, and an uploads folder."""

    server: PostgresServer
    superuser_password: str
    uploads: Path

    def environ(self, backups: Path, **extra: str) -> dict[str, str]:
        """The environment of `python -m scripts.backups.backup --direct` (as the backup service has it)."""
        return {
            **self.server.client_environment(self.superuser_password),
            "PYTHONPATH": str(REPO),
            "APP_ENV": "development",
            "BACKUP_DIR": str(backups),
            "BACKUP_UPLOADS_DIR": str(self.uploads),
            "BACKUP_KEEP": "7",
            "APP_DB_NAME": "app",
            "GLITCHTIP_DB_NAME": "glitchtip",
            **extra,
        }

    def psql(self, sql: str, database: str) -> str:
        return self.server.psql(sql, database)

    def fingerprint(self) -> dict[str, str]:
        """Every table's rows (a hash of their text), every sequence's position, the databases' owners
        and privileges, and every uploaded file's content."""
        found = {
            "databases": self.psql(
                "SELECT string_agg(datname || ' ' || pg_get_userbyid(datdba) || ' ' || "
                "coalesce(datacl::text, ''), '; ' ORDER BY datname) FROM pg_database "
                "WHERE datname IN ('app', 'glitchtip')",
                "postgres",
            )
        }
        for database in ("app", "glitchtip"):
            relations = self.psql(
                "SELECT relname || ' ' || relkind::text FROM pg_class c JOIN pg_namespace n ON "
                "n.oid = c.relnamespace WHERE nspname = 'public' AND relkind IN ('r', 'p', 'S') "
                "ORDER BY relname",
                database,
            ).split()
            for name, kind in zip(relations[::2], relations[1::2], strict=True):
                sql = (
                    f"SELECT last_value || ' ' || is_called FROM \"{name}\""
                    if kind == "S"
                    else f"SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                    f'FROM "{name}" t'
                )
                found[f"{database}.{name}"] = self.psql(sql, database)
        for path in sorted(self.uploads.rglob("*")):
            if path.is_file():
                found[f"uploads/{path.relative_to(self.uploads)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    def counts(self, database: str, tables: list[str]) -> dict[str, int]:
        return {t: int(self.psql(f'SELECT count(*) FROM "{t}"', database)) for t in tables}


@contextlib.contextmanager
def running_stack(tmp: Path):
    """A fresh stack, as after `down -v` and a first start: databases and roles, no tables, no uploads."""
    server = PostgresServer()
    password = secrets.token_urlsafe(18)
    try:
        server.start()
        # Other passwords than the source's: a dump carries no roles and no passwords.
        server.initialise_bundle(secrets.token_urlsafe(18), secrets.token_urlsafe(18), password)
        uploads = tmp / "uploads"
        uploads.mkdir(parents=True)
        (uploads / ".gitignore").write_text("*\n")  # what GlitchTip's image puts into a fresh volume
        yield Stack(server, password, uploads)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A stack with data: the app's tables by its own migrations, filled through its models; GlitchTip's
    look-alikes; uploaded files (a source map, a nested debug file, a large one)."""
    app_password = secrets.token_urlsafe(18)
    server = PostgresServer()
    password = secrets.token_urlsafe(18)
    try:
        server.start()
        server.initialise_bundle(app_password, secrets.token_urlsafe(18), password)
        app_env = {**os.environ, "DATABASE_URL": server.url("app", app_password, "app")}
        for command in (["migrate", "--noinput"], ["shell", "--no-imports", "-c", POPULATE_APP]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=APP,
                env=app_env,
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
        server.psql(GLITCHTIP_TABLES, "glitchtip")
        uploads = tmp_path_factory.mktemp("source") / "uploads"
        (uploads / "file_blobs" / "ab").mkdir(parents=True)
        (uploads / ".gitignore").write_text("*\n")
        (uploads / "file_blobs" / "ab" / "app.js.map").write_text('{"version": 3, "sources": ["app.js"]}')
        (uploads / "file_blobs" / "ab" / "debug.sym").write_bytes(os.urandom(200_000))
        yield Stack(server, password, uploads)
    finally:
        server.stop()


@pytest.fixture
def empty_stack(tmp_path):
    with running_stack(tmp_path / "empty") as stack:
        yield stack


def run_script(module: str, environ: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=environ, capture_output=True, text=True, timeout=timeout
    )


def back_up(stack: Stack, backups: Path, **extra: str) -> Path:
    result = run_script("scripts.backups.backup", stack.environ(backups, **extra), "--direct")
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(result.stdout.strip().splitlines()[-1].removeprefix("Done: "))


def restore(stack: Stack, backups: Path, folder: Path, *args: str) -> subprocess.CompletedProcess:
    return run_script("scripts.backups.restore", stack.environ(backups), "development", str(folder), "--direct", *args)


@pytest.fixture(scope="module")
def backed_up(source, tmp_path_factory):
    """One backup of the source, taken once; tests that change it work on a copy."""
    backups = tmp_path_factory.mktemp("backups")
    return back_up(source, backups)


@pytest.fixture
def backup_copy(backed_up, tmp_path):
    copy = tmp_path / "copied" / "development" / backed_up.name
    shutil.copytree(backed_up, copy)
    return copy


# ---- the round trip ------------------------------------------------------------------------
def test_a_backup_holds_both_databases_the_uploads_and_a_manifest(source, backed_up):
    assert archive.NAME.match(backed_up.name) and backed_up.parent.name == "development"
    assert sorted(p.name for p in backed_up.iterdir()) == [
        "SHA256SUMS",
        "app.dump",
        "glitchtip-uploads.tar",
        "glitchtip.dump",
        "manifest.json",
    ]
    assert backed_up.stat().st_mode & 0o777 == 0o700 and backed_up.parent.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in backed_up.iterdir())

    manifest = json.loads((backed_up / "manifest.json").read_text())
    assert manifest["environment"] == "development" and manifest["format"] == 1
    assert manifest["started"].endswith("Z") and manifest["postgres_server_version"].startswith("15")
    app, glitchtip = manifest["databases"]["app"], manifest["databases"]["glitchtip"]
    assert app["tables"] == source.counts("app", list(app["tables"]))
    assert app["tables"]["auth_user"] == 3 and app["tables"]["forecast_weatherforecast"] == 288
    assert app["owner"] == "app" and app["migrations"]["forecast"].startswith("000")
    # Partitioned events are counted through their parent; tables this GlitchTip lacks are left out.
    assert glitchtip["tables"] == {
        "users_user": 2,
        "organizations_ext_organization": 1,
        "projects_project": 1,
        "issue_events_issue": 40,
        "issue_events_issueevent": 2000,
        "uptime_monitor": 2,
    }
    assert manifest["uploads"]["files"] == 3
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((backed_up / name).read_bytes()).hexdigest()
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=backed_up, capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stdout.count(": OK") == 4, check.stdout + check.stderr


def test_a_restore_into_an_empty_stack_brings_every_row_back(source, backed_up, empty_stack, tmp_path):
    before = source.fingerprint()
    assert empty_stack.fingerprint() != before

    result = restore(empty_stack, tmp_path / "backups", backed_up)

    assert result.returncode == 0, result.stdout + result.stderr
    for done in (
        "check the backup",
        "check the target",
        "restore the app's database",
        "restore GlitchTip's database",
        "restore GlitchTip's uploads",
        "row counts against the manifest",
    ):
        assert done in result.stdout
    assert "back up the target first" not in result.stdout  # it was empty
    manifest = json.loads((backed_up / "manifest.json").read_text())
    rows = sum(sum(entry["tables"].values()) for entry in manifest["databases"].values())
    assert f"all {rows} rows and 3 uploads are back" in result.stdout
    # Every row of every table (not only the main ones), the sequences, owners and privileges, the files.
    assert empty_stack.fingerprint() == before
    # The app's role owns its tables again, and may use them with the target's own password.
    assert (
        empty_stack.psql(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'forecast_%' AND relkind = 'r'",
            "app",
        ).strip()
        == "app"
    )


# ---- refusals that touch nothing -------------------------------------------------------------
def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGE = {
    "a flipped byte in a dump": (lambda b: flip_a_byte(b / "glitchtip.dump"), "glitchtip.dump does not match its"),
    "a truncated dump": (lambda b: os.truncate(b / "app.dump", 100), "app.dump does not match its checksum"),
    "a missing file": (lambda b: (b / "glitchtip-uploads.tar").unlink(), "glitchtip-uploads.tar is missing"),
    "an edited manifest": (
        lambda b: (b / "manifest.json").write_text(
            (b / "manifest.json").read_text().replace('"auth_user": 3', '"auth_user": 30')
        ),
        "manifest.json does not match its checksum",
    ),
    "no manifest": (lambda b: (b / "manifest.json").unlink(), "manifest.json is missing"),
    "no checksums": (lambda b: (b / "SHA256SUMS").unlink(), "has no SHA256SUMS"),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_backup_is_refused_before_anything_is_touched(source, backup_copy, tmp_path, damage):
    change, message = damage
    change(backup_copy)
    before = source.fingerprint()

    # --force into a stack with data: the most that could be lost.
    result = restore(source, tmp_path / "backups", backup_copy, "--force")

    assert result.returncode == 3, result.stdout + result.stderr
    assert message in result.stderr and "Fix:" in result.stderr
    assert "check the target" not in result.stdout
    assert source.fingerprint() == before
    assert not (tmp_path / "backups").exists(), "not even the backup of the target was started"


def test_a_target_with_data_is_refused_without_force(source, backed_up, tmp_path):
    before = source.fingerprint()
    result = restore(source, tmp_path / "backups", backed_up)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "the target is not empty" in result.stderr and "auth_user 3" in result.stderr
    assert "--force" in result.stderr
    assert source.fingerprint() == before


def test_force_backs_up_the_target_first_then_replaces_it(backed_up, empty_stack, tmp_path):
    backups = tmp_path / "backups"
    assert restore(empty_stack, backups, backed_up).returncode == 0
    empty_stack.psql(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
        "is_active, date_joined) VALUES ('!', false, 'late', '', '', '', false, true, now())",
        "app",
    )
    # Only one backup is kept, yet the one being restored must survive the target's backup.
    inside = backups / "development" / backed_up.name
    shutil.copytree(backed_up, inside)

    result = run_script(
        "scripts.backups.restore",
        empty_stack.environ(backups, BACKUP_KEEP="1"),
        "development",
        str(inside),
        "--direct",
        "--force",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    taken = [p for p in archive.complete(backups / "development") if p.name.endswith("-before-restore")]
    assert len(taken) == 1 and inside.exists()
    assert str(taken[0]) in result.stdout  # where the target's data went
    saved = json.loads((taken[0] / "manifest.json").read_text())
    assert saved["databases"]["app"]["tables"]["auth_user"] == 4
    assert empty_stack.counts("app", ["auth_user"]) == {"auth_user": 3}


# ---- how a backup ends: retention, interruption, a full disk, a stopped server ---------------
def test_only_the_newest_backup_keep_backups_are_kept(source, tmp_path):
    backups = tmp_path / "backups"
    folder = backups / "development"
    folder.mkdir(parents=True)
    (folder / ".incomplete-20261128T000000Z-999").mkdir()  # left by a killed backup
    (folder / "notes.txt").write_text("the operator's own file")
    made = [back_up(source, backups, BACKUP_KEEP="2") for _ in range(3)]
    assert archive.complete(folder) == made[1:]
    assert sorted(p.name for p in folder.iterdir() if not archive.NAME.match(p.name)) == ["notes.txt"]


@contextlib.contextmanager
def table_locked(stack: Stack, database: str, table: str):
    """Another session holds `table` exclusively until the block ends (as a long migration would)."""
    holder = subprocess.Popen(
        [f"{stack.server.bindir}/psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--dbname", database],
        env=stack.server.client_environment(stack.superuser_password),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        holder.stdin.write(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_backup_stopped_midway_leaves_nothing_that_looks_complete(source, tmp_path, signum):
    backups = tmp_path / "backups"
    folder = backups / "development"
    # The backup writes the app's dump, then waits for GlitchTip's users table: there it is killed,
    # or stopped as `docker stop` stops it.
    with table_locked(source, "glitchtip", "users_user"):
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.backups.backup", "--direct"],
            cwd=REPO,
            env=source.environ(backups),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not (
                list(folder.glob(".incomplete-*/app.dump"))
                and source.psql(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'users_user'::regclass", "glitchtip"
                ).strip()
                == "1"
            ):
                assert time.monotonic() < deadline and process.poll() is None, "the backup never waited there"
                time.sleep(0.1)
            process.send_signal(signum)
            out, err = process.communicate(timeout=60)
        finally:
            process.kill()

    assert archive.complete(folder) == []
    leftovers = [p.name for p in folder.iterdir() if p.is_dir()]
    if signum == signal.SIGTERM:  # docker stop, kill: the unfinished folder is removed on the way out
        assert process.returncode == 130 and "interrupted" in err
        assert leftovers == []
    else:  # nothing can clean up after SIGKILL: a hidden folder, never taken for a backup
        assert len(leftovers) == 1 and leftovers[0].startswith(".incomplete-")
    # The next backup clears what is left and completes.
    made = back_up(source, backups)
    assert [p.name for p in folder.iterdir() if p.is_dir()] == [made.name]


@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB file system (tmpfs), for backups that cannot fit."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_fails_clearly_and_keeps_nothing(source, small_disk):
    result = run_script("scripts.backups.backup", source.environ(small_disk), "--direct")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "No space left on device" in result.stderr
    assert "free space" in result.stderr and "BACKUP_KEEP" in result.stderr
    assert list((small_disk / "development").iterdir()) == []


def test_a_stopped_postgres_fails_clearly_and_writes_nothing(source, tmp_path, backed_up):
    backups = tmp_path / "backups"
    environ = source.environ(backups, PGPORT=str(free_port()))
    result = run_script("scripts.backups.backup", environ, "--direct")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cannot reach Postgres" in result.stderr and "check that the server runs" in result.stderr
    assert list((backups / "development").iterdir()) == []

    refused = run_script("scripts.backups.restore", environ, "development", str(backed_up), "--direct")
    assert refused.returncode == 4 and "cannot reach Postgres" in refused.stderr


# ---- the scheduled backup ----------------------------------------------------------------------
def test_the_backup_service_records_each_run_for_its_healthcheck(source, tmp_path, monkeypatch):
    status = tmp_path / "status.json"
    monkeypatch.setenv("BACKUP_STATUS_FILE", str(status))

    def check() -> subprocess.CompletedProcess:
        return run_script("scripts.backups.schedule", {**os.environ, "PYTHONPATH": str(REPO)}, "--check")

    assert check().returncode == 1  # not started
    for name, value in source.environ(tmp_path / "backups").items():
        monkeypatch.setenv(name, value)
    schedule.scheduled_backup()
    assert json.loads(status.read_text())["state"] == "ok" and check().returncode == 0
    assert len(archive.complete(tmp_path / "backups" / "development")) == 1

    monkeypatch.setenv("PGPORT", str(free_port()))
    schedule.scheduled_backup()
    assert json.loads(status.read_text())["state"] == "failed"
    assert check().returncode == 1 and "exit status 3" in check().stdout


def test_the_backup_service_waits_for_its_schedule_and_stops_on_sigterm(source, tmp_path):
    environ = {
        **source.environ(tmp_path / "backups"),
        "BACKUP_SCHEDULE": "30 2 * * *",
        "BACKUP_STATUS_FILE": str(tmp_path / "status.json"),
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "scripts.backups.schedule"],
        cwd=REPO,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None
        line = service.stdout.readline()
        assert "a backup at '30 2 * * *' (UTC)" in line and "next at" in line and " 02:30 UTC" in line
        assert json.loads((tmp_path / "status.json").read_text())["state"] == "waiting"
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    finally:
        service.kill()

    wrong = run_script("scripts.backups.schedule", {**environ, "BACKUP_SCHEDULE": "daily"})
    assert wrong.returncode == 2 and "BACKUP_SCHEDULE is 'daily', not a cron schedule" in wrong.stderr


def test_backup_keep_must_be_a_positive_number(source, tmp_path):
    result = run_script("scripts.backups.backup", source.environ(tmp_path, BACKUP_KEEP="0"), "--direct")
    assert result.returncode == 2 and "BACKUP_KEEP is '0'" in result.stderr


# ---- the commands' help ------------------------------------------------------------------------
@pytest.fixture
def prepared_bundle(bundle):
    """A copy of the bundle whose scripts' .venv is already prepared (this interpreter, which has the
    scripts' packages), as it is after the first scripts/up."""
    venv = bundle.root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").symlink_to(sys.executable)
    requirements = (bundle.root / "scripts" / "requirements.txt").read_bytes()
    (venv / ".requirements.sha256").write_text(hashlib.sha256(requirements).hexdigest() + "\n")
    return bundle


@pytest.mark.parametrize(
    "script, words",
    [
        ("backup", ["usage: backup", "BACKUP_KEEP", "--include-secrets", "Exit status"]),
        ("restore", ["usage: restore", "--force", "before-restore", "Exit status"]),
    ],
)
def test_every_command_answers_help(prepared_bundle, script, words):
    result = prepared_bundle.run(script, "--help")
    assert result.returncode == 0, result.stderr
    for word in words:
        assert word in result.stdout
    assert not (prepared_bundle.root / "backups").exists()


def test_the_backup_service_answers_help():
    result = run_script("scripts.backups.schedule", {**os.environ, "PYTHONPATH": str(REPO)}, "--help")
    assert result.returncode == 0 and "BACKUP_SCHEDULE" in result.stdout and "--check" in result.stdout


# ---- the backup service in compose.yml --------------------------------------------------------
@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_staging_and_production_run_the_backup_service(bundle, env):
    config = bundle.prepare(env).config(env)
    if env == "development":
        assert "backup" not in config["services"]
        return
    service = config["services"]["backup"]
    mounts = {volume["target"]: volume for volume in service["volumes"]}
    assert mounts["/backups"]["type"] == "bind" and mounts["/backups"]["source"] == str(bundle.root / "backups")
    assert mounts["/uploads"] == {
        **mounts["/uploads"],
        "type": "volume",
        "source": "glitchtip-uploads",
        "read_only": True,
    }
    assert service["environment"]["PGHOST"] == "postgres" and service["environment"]["BACKUP_UPLOADS_DIR"] == "/uploads"
    assert service["environment"]["PGPASSWORD"] == bundle.secret(env, "POSTGRES_PASSWORD")
    assert service.get("profiles") == ["backup"] and not service.get("ports")
    assert service["healthcheck"]["test"][-1] == "--check"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    # pg_dump as new as the server: the backup image is built from the postgres service's image.
    assert service["build"]["args"]["POSTGRES_IMAGE"] == config["services"]["postgres"]["image"]
