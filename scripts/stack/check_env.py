"""Refuse to start an unsafe configuration; each refusal names the variable and the fix.

Usage: scripts/check-env [ENV] [--show]   (default $APP_ENV, else development)

It checks the merged configuration: env/defaults.env, overridden by env/ENV.env, by your own
env/ENV.local.env, by env/ENV.release.env and by env/ENV.secrets.env (scripts/settings/envfiles.py).
`--show` first prints that merged result, each value with the layer it comes from, secrets masked.

Staging and production must not run with DEBUG on, placeholder or short secrets, sample rates of
1.0, open GlitchTip registration, database or cache ports published on the host, or a DSN pointing
at a host the app's containers cannot reach. In every environment, the TLS settings must fit the
addresses and cookies (scripts/settings/tls.py): an http:// address with Secure cookies or the https
redirect, acme for an IP address or localhost, the operator's certificate files (TLS_MODE=files)
missing, mismatched, expired or without their chain, a terminator in front (TLS_MODE=off) that nginx
does not trust. Development only gets the checks that would break it. In every environment the app's
own settings module is loaded with exactly the environment Compose gives the app container, so a
value the app refuses (DJANGO_DEBUG=maybe, a sample rate of 1.5) is named here rather than when the
container fails; and the ALERT_* settings are checked the way the bootstrap reads them. Exit status:
0 safe, 1 refused, 2 the check itself could not run.
Secret values are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from glitchtip.alerts import AlertSettings, AlertSettingsError
from scripts.settings import envfiles, tls
from scripts.stack import engine

SECRETS = {  # name -> minimum length
    "DJANGO_SECRET_KEY": 50,
    "GLITCHTIP_SECRET_KEY": 32,
    "POSTGRES_PASSWORD": 16,
    "APP_DB_PASSWORD": 16,
    "GLITCHTIP_DB_PASSWORD": 16,
    "GLITCHTIP_ADMIN_PASSWORD": 12,
}
KNOWN_WEAK = {"change_me", "changeme", "change_me_to_something_random", "postgres", "password", "secret", "admin"}
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
STATE_SERVICES = {"postgres", "redis"}
STRICT = {"staging", "production"}
# Loads the app's settings, which validate every variable as they load (app/config/settings.py).
SETTINGS_CHECK = """
import sys
try:
    import config.settings  # noqa: F401
except Exception as exc:  # ImproperlyConfigured, or anything else that would stop the app starting
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
"""


@dataclass
class Problem:
    variable: str
    problem: str
    fix: str


def truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def check_values(env: str, values: dict[str, str]) -> list[Problem]:
    strict = env in STRICT
    # Your own values go into the git-ignored layer, never into a committed file.
    settings = str(envfiles.local_file(env).relative_to(envfiles.REPO))
    secrets = f"env/{env}.secrets.env"
    problems = []
    if values.get("APP_ENV") != env:
        problems.append(
            Problem(
                "APP_ENV",
                f"is {values.get('APP_ENV', '')!r}, not {env!r}: the containers would "
                "read another environment's settings",
                f"set APP_ENV={env} in {settings}",
            )
        )
    for name, value in values.items():
        if envfiles.PLACEHOLDER in value:
            where = secrets if name in SECRETS or name == "EMAIL_URL" else settings
            problems.append(Problem(name, "still holds a !!!SET ...!!! placeholder", f"set a real value in {where}"))
    for name, minimum in SECRETS.items():
        value = values.get(name, "")
        if not value:
            problems.append(Problem(name, "is missing", f"run scripts/secrets {env} (it only adds what is missing)"))
        elif strict and (len(value) < minimum or value.lower() in KNOWN_WEAK):
            problems.append(
                Problem(
                    name,
                    f"is weak (shorter than {minimum} characters or a well-known default)",
                    f"replace it in {secrets} with a strong random value of {minimum}+ characters "
                    "(a database password must also be changed inside Postgres)",
                )
            )
    if strict and truthy(values.get("DJANGO_DEBUG", "")):
        problems.append(
            Problem(
                "DJANGO_DEBUG",
                "is on: error pages would show settings and code to anyone",
                f"set DJANGO_DEBUG=false in {settings}",
            )
        )
    if strict and truthy(values.get("GLITCHTIP_ENABLE_USER_REGISTRATION", "")):
        problems.append(
            Problem(
                "GLITCHTIP_ENABLE_USER_REGISTRATION",
                "is on: anyone could sign up to GlitchTip",
                f"set GLITCHTIP_ENABLE_USER_REGISTRATION=false in {settings}",
            )
        )
    if strict:
        for name in ("SENTRY_TRACES_SAMPLE_RATE", "SENTRY_PROFILES_SAMPLE_RATE"):
            try:
                rate = float(values.get(name, "0") or 0)
            except ValueError:
                problems.append(Problem(name, "is not a number", f"set a rate between 0.0 and 1.0 in {settings}"))
                continue
            if rate >= 1.0:
                problems.append(
                    Problem(
                        name,
                        f"is {rate}: every request traced costs the app and GlitchTip dearly",
                        f"set it to 0.1 (production) or 0.5 at most (staging) in {settings}",
                    )
                )
        hosts = [h.strip() for h in values.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
        if "*" in hosts:
            problems.append(
                Problem(
                    "DJANGO_ALLOWED_HOSTS",
                    "contains *, so any Host header is accepted",
                    f"list your public host names in {settings}",
                )
            )
    problems += check_urls(env, values)
    problems += [Problem(*finding) for finding in tls.findings(env, values, strict)]
    try:
        AlertSettings.from_values(values)
    except AlertSettingsError as exc:
        problems.append(Problem(exc.variable, exc.problem, f"{exc.fix} (in {envfiles.origin(env, exc.variable)})"))
    return problems


def in_network_urls(env: str, values: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The URLs the app's containers call GlitchTip at (the DSN, a heartbeat per job), by variable."""
    urls = {"SENTRY_DSN": values.get("SENTRY_DSN", "")}
    try:
        heartbeats = json.loads(values.get("HEARTBEAT_URLS") or "{}")
    except ValueError:
        heartbeats = None
    if not isinstance(heartbeats, dict):
        return urls, [
            Problem(
                "HEARTBEAT_URLS",
                "is not a JSON object of job name to URL",
                f"run scripts/bootstrap-glitchtip {env} to rewrite it",
            )
        ]
    urls.update({f"HEARTBEAT_URLS[{job}]": str(url) for job, url in sorted(heartbeats.items())})
    return urls, []


def check_urls(env: str, values: dict[str, str]) -> list[Problem]:
    """The DSN and heartbeat URLs are used from inside containers, where localhost is the container itself."""
    secrets = f"env/{env}.secrets.env"
    urls, problems = in_network_urls(env, values)
    for name, value in urls.items():
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            problems.append(
                Problem(name, "is not an http(s) URL", f"run scripts/bootstrap-glitchtip {env} to rewrite it")
            )
        elif parts.hostname in LOOPBACK:
            internal = values.get("GLITCHTIP_INTERNAL_URL", "http://glitchtip-web:8000")
            problems.append(
                Problem(
                    name,
                    f"points at {parts.hostname}, which inside the app's containers is the "
                    "container itself, so nothing would arrive",
                    f"use the in-network address {internal} (scripts/bootstrap-glitchtip {env} writes it) in {secrets}",
                )
            )
    return problems


def check_compose(env: str, config: dict, values: dict[str, str]) -> list[Problem]:
    """Ports published on the host by the resolved configuration (compose.override.yml included),
    and in-network URLs that name no service of it."""
    problems = []
    services = set(config.get("services", {}))
    for name, url in in_network_urls(env, values)[0].items():
        host = urlsplit(url).hostname
        if host and "." not in host and host not in LOOPBACK and host not in services:
            problems.append(
                Problem(
                    name,
                    f"points at {host}, but no service of that name runs in this stack",
                    f"use one of {', '.join(sorted(services))} (scripts/bootstrap-glitchtip {env} "
                    "writes glitchtip-web)",
                )
            )
    for name, service in sorted(config.get("services", {}).items()):
        published = [str(p.get("published", "")) for p in service.get("ports", []) if p.get("published")]
        if not published:
            continue
        if name in STATE_SERVICES:
            problems.append(
                Problem(
                    f"services.{name}.ports",
                    f"publishes {', '.join(published)} on the host: the database/cache would be reachable from outside",
                    "remove the ports: entry (compose.yml or compose.override.yml); use "
                    f"scripts/compose {env} exec {name} ... to reach it",
                )
            )
        elif env in STRICT and name != "nginx":
            problems.append(
                Problem(
                    f"services.{name}.ports",
                    f"publishes {', '.join(published)}; only nginx may",
                    "remove the ports: entry and reach the service through nginx",
                )
            )
    return problems


def check_app_settings(env: str, config: dict, layers: list[tuple[envfiles.Layer, dict[str, str]]]) -> list[Problem]:
    """The app's settings loaded with the app container's environment as Compose resolves it."""
    service = config.get("services", {}).get("app", {})
    environment = {
        name: "" if value is None else str(value) for name, value in (service.get("environment") or {}).items()
    }
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_CHECK],
        cwd=envfiles.REPO / "app",
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(envfiles.REPO / "app"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **environment,
        },
    )
    if result.returncode == 0:
        return []
    message = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
    if message.startswith("ModuleNotFoundError"):
        return [
            Problem(
                "(the app's settings)",
                f"could not be loaded here: {message}",
                f"run scripts/up {env} or scripts/check-env through the scripts' .venv "
                "(pip install -r scripts/requirements.txt)",
            )
        ]
    named = [
        name for name in dict.fromkeys(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", message)) if name in environment
    ]
    where = {name: layer.relative() for layer, values in layers for name in values}
    fix = "; ".join(f"correct {name} in {where.get(name, 'the env files')}" for name in named)
    return [
        Problem(
            ", ".join(named) or "(the app's settings)",
            f"is refused by the app: {message}",
            fix or f"see scripts/check-env {env} --show",
        )
    ]


def show(env: str) -> None:
    """The merged configuration, one variable a line with the layer it comes from; secrets masked."""
    layers = envfiles.read_layers(env)
    print(f"# check-env {env}: the merged configuration (a later layer wins; secrets masked)")
    for number, (layer, _) in enumerate(layers, 1):
        print(f"#   [{number}] {layer.relative()}")
    merged: dict[str, tuple[str, int, bool]] = {}
    for number, (layer, values) in enumerate(layers, 1):
        for name, value in values.items():
            merged[name] = (value, number, layer.secret)
    width = max(len(name) for name in merged)
    for name, (value, number, secret) in sorted(merged.items()):
        shown = f"******** ({len(value)} characters)" if secret and value else value
        print(f"{name:<{width}} = {shown}   [{number}]")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="check-env", description=__doc__.split("\n")[0])
    parser.add_argument("env", nargs="?")
    parser.add_argument("--show", action="store_true", help="print the merged configuration (secrets masked) first")
    args = parser.parse_args(argv[1:])
    try:
        env = envfiles.environment(args.env)
        values = envfiles.read_environment(env)
        if args.show:
            show(env)
        if not envfiles.secrets_file(env).exists():
            print(
                f"check-env {env}: REFUSED\n  env/{env}.secrets.env does not exist. Fix: run scripts/secrets {env}",
                file=sys.stderr,
            )
            return 1
        problems = check_values(env, values)
        if not problems:  # interpolation needs complete values
            config = engine.resolved_config(env)
            problems += check_compose(env, config, values)
            problems += check_app_settings(env, config, envfiles.read_layers(env))
    except envfiles.EnvError as exc:
        print(f"check-env: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"check-env {env}: REFUSED, {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  {p.variable} {p.problem}.\n      Fix: {p.fix}.", file=sys.stderr)
        return 1
    print(f"check-env {env}: OK")
    for note in tls.notes(env, values):
        print(f"  Note: {note}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
