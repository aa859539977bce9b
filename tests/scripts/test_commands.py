"""What every command in scripts/ owes a new operator: --help, and a clear word when Python's venv is missing."""

import subprocess
import sys

import pytest

from tests.harness.processes import REPO

COMMANDS = sorted(
    path.name
    for path in (REPO / "scripts").iterdir()
    if path.is_file() and path.stat().st_mode & 0o111 and path.suffix == ""
)


def test_the_commands_are_the_documented_ones():
    assert {"up", "compose", "secrets", "check-env", "bootstrap-glitchtip", "smoke-test", "lock-requirements"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_answers_help_with_its_usage_and_does_nothing_else(bundle, command, flag):
    result = bundle.run(command, flag)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.lower().startswith("usage:"), result.stdout
    assert f"unknown environment '{flag}'" not in result.stdout + result.stderr
    # Nothing of the operator's is made (the scripts' .venv may be: it is made on first use, --help included).
    assert not list((bundle.root / "env").glob("*.secrets.env"))
    assert not list((bundle.root / "env").glob("*.local.env"))


def test_up_refuses_an_unknown_option_with_its_usage(bundle):
    result = bundle.run("up", "--fast")
    assert result.returncode == 2 and result.stderr.startswith("usage: scripts/up")


def test_a_python_without_venv_support_gets_the_exact_install_command(bundle, tmp_path):
    """Debian and Ubuntu leave ensurepip (package python3.X-venv) out of their python3: as there, the
    module cannot be imported, and the scripts say which package to install instead of failing half-way."""
    missing = tmp_path / "no-ensurepip" / "ensurepip"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'ensurepip'\")\n")
    environ = {key: value for key, value in bundle.environ().items() if key != "SCRIPTS_USE_SYSTEM_PYTHON"}
    result = subprocess.run(
        [str(bundle.root / "scripts" / "secrets"), "development"],
        cwd=bundle.root,
        text=True,
        capture_output=True,
        timeout=60,
        env={**environ, "PYTHONPATH": str(missing.parent)},
    )
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert result.returncode == 1
    assert "venv/ensurepip" in result.stderr and f"apt-get install python{version}-venv" in result.stderr
    assert not (bundle.root / ".venv").exists() and not list((bundle.root / "env").glob("*.secrets.env"))
