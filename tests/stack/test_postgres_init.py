"""postgres/initdb.d on a real, empty PostgreSQL: the passwords may come from files (Docker secrets)."""

import os
import subprocess

import psycopg
import pytest

from tests.harness.postgres import PostgresServer
from tests.harness.processes import REPO

SCRIPT = REPO / "postgres/initdb.d/10-create-databases.sh"


@pytest.fixture
def empty_postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


def secret_file(server: PostgresServer, name: str, value: str) -> str:
    """A file the script's (unprivileged) user can read, as Docker mounts /run/secrets/<name>: mode 0444."""
    path = os.path.join(server.workdir, name)
    with open(path, "w") as handle:
        handle.write(value)
    os.chmod(path, 0o444)
    return path


def test_passwords_from_name_file_variables_create_roles_that_log_in_with_them(empty_postgres):
    server = empty_postgres
    output = server.run_init_script(
        SCRIPT,
        {
            "APP_DB_PASSWORD_FILE": secret_file(server, "app_db_password", "app-password-from-a-file"),
            "GLITCHTIP_DB_PASSWORD_FILE": secret_file(server, "glitchtip_db_password", "gt-password-from-a-file"),
        },
    )
    assert "creating database app" in output
    for role, password in (("app", "app-password-from-a-file"), ("glitchtip", "gt-password-from-a-file")):
        with psycopg.connect(server.url(role, password, role)) as connection:
            assert connection.execute("select current_user").fetchone() == (role,)


def test_a_password_and_its_file_both_set_is_refused(empty_postgres):
    server = empty_postgres
    with pytest.raises(subprocess.CalledProcessError) as failed:
        server.run_init_script(
            SCRIPT,
            {
                "APP_DB_PASSWORD": "app-password-in-the-environment",
                "APP_DB_PASSWORD_FILE": secret_file(server, "app_db_password", "app-password-from-a-file"),
                "GLITCHTIP_DB_PASSWORD": "gt-password-in-the-environment",
            },
        )
    assert "APP_DB_PASSWORD_FILE" in failed.value.stderr and "exclusive" in failed.value.stderr
    assert server.psql("select count(*) from pg_roles where rolname in ('app', 'glitchtip')").strip() == "0"
