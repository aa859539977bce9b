"""Real nginx (Debian's binary) with the bundle's templates, started the way the official image starts it.

Which files are templates, which scripts the image's entrypoint runs and where the snippets and the
certificates' volume go is read from the nginx service's mounts in compose.yml, so the test runs
exactly what the container would: the entrypoint's `*.envsh` files are sourced (the TLS settings),
the templates rendered with envsubst, then its `*.sh` scripts run (the certificate and its watcher).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import yaml

from tests.harness.processes import REPO, find_binary, free_port, stop, wait_for_port

# The official image's /etc/nginx/nginx.conf, with paths moved into the test's own prefix.
MAIN_CONF = """\
worker_processes 2;
error_log {prefix}/error.log notice;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log {prefix}/access.log main;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    include {prefix}/conf.d/*.conf;
}}
"""
TEMPLATES = "/etc/nginx/templates/"
ENTRYPOINT = "/docker-entrypoint.d/"
# Paths inside the container that the configuration names and that are neither mounts nor templates:
# the rendered configuration, and the certificate link (nginx/entrypoint/40-tls-certificate.sh).
CONTAINER_PATHS = {"/etc/nginx/conf.d": "conf.d", "/etc/nginx/tls": "tls"}


def nginx_mounts() -> tuple[dict[str, Path], dict[str, str]]:
    """The nginx service's mounts in compose.yml: container path -> file or folder in the repo (bind
    mounts), and container path -> volume name (named volumes)."""
    service = yaml.safe_load((REPO / "compose.yml").read_text())["services"]["nginx"]
    binds, volumes = {}, {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            binds[target] = (REPO / source).resolve()
        else:
            volumes[target] = source
    return binds, volumes


def render_template(template: str, env: dict[str, str], filter_pattern: str) -> str:
    """What 20-envsubst-on-templates.sh does: envsubst limited to the defined variables matching the filter."""
    names = [name for name in env if re.search(filter_pattern, name)]
    result = subprocess.run(
        [find_binary("envsubst"), " ".join(f"${{{n}}}" for n in names)],
        input=template,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def sourced(scripts: list[Path], env: dict[str, str]) -> dict[str, str]:
    """The environment after sourcing `scripts` in order, as the entrypoint sources its `*.envsh`."""
    program = "".join(f'. "{script}" || exit 1\n' for script in scripts) + "env -0\n"
    result = subprocess.run(
        ["sh", "-c", program], env={"PATH": os.environ["PATH"], **env}, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"the entrypoint's settings failed: {result.stderr.decode()}")
    pairs = (entry.split("=", 1) for entry in result.stdout.decode().split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name.startswith("NGINX_")}


class NginxServer:
    def __init__(
        self,
        app_upstream: str,
        glitchtip_upstream: str,
        trusted_proxy_cidr: str = "192.0.2.1/32",
        tls_mode: str = "off",
        app_url: str = "http://localhost",
        glitchtip_url: str = "http://localhost:8001",
        certificates: Path | None = None,
        hsts_seconds: int = 31536000,
        certificate_check_seconds: int = 1,
    ):
        self.app_port = free_port()
        self.https_port = free_port()
        self.glitchtip_port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="mf-nginx-"))
        self.prefix.chmod(0o755)  # workers run as an unprivileged user when the tests run as root
        # The certificates service's volume (shared with certbot in the tests that get a certificate).
        self.certificates = certificates or self.prefix / "volumes" / "certificates"
        # The variables compose.yml gives the nginx service, with test ports and upstreams.
        self.env = {
            "NGINX_ENVSUBST_FILTER": "^NGINX_",
            "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
            "NGINX_APP_LISTEN_PORT": str(self.app_port),
            "NGINX_HTTPS_LISTEN_PORT": str(self.https_port),
            "NGINX_GLITCHTIP_LISTEN_PORT": str(self.glitchtip_port),
            "NGINX_APP_UPSTREAM": app_upstream,
            "NGINX_GLITCHTIP_UPSTREAM": glitchtip_upstream,
            "NGINX_TRUSTED_PROXY_CIDR": trusted_proxy_cidr,
            "NGINX_TLS_MODE": tls_mode,
            "NGINX_APP_PUBLIC_URL": app_url,
            "NGINX_GLITCHTIP_PUBLIC_URL": glitchtip_url,
            "NGINX_HTTPS_PORT": str(self.https_port),
            "NGINX_HSTS_SECONDS": str(hsts_seconds),
        }
        self.certificate_check_seconds = certificate_check_seconds
        self.process: subprocess.Popen | None = None
        self.sessions: list[int] = []  # the entrypoint scripts' process groups (what they leave running)

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def glitchtip_url(self) -> str:
        return f"http://127.0.0.1:{self.glitchtip_port}"

    @property
    def command(self) -> list[str]:
        return [find_binary("nginx", ["/usr/sbin"]), "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")]

    def localized(self, text: str, folders: dict[str, Path]) -> str:
        for target, copy in folders.items():
            text = text.replace(target, str(copy))
        return text

    def configure(self) -> Path:
        (self.prefix / "conf.d").mkdir()
        binds, volumes = nginx_mounts()
        templates = {target: source for target, source in binds.items() if target.startswith(TEMPLATES)}
        scripts = sorted((target for target in binds if target.startswith(ENTRYPOINT)), key=Path)
        assert templates, "compose.yml mounts no template into the nginx service"
        # The other mounts (snippets, the error page) are copied under the prefix, the volumes are folders
        # there, and every path to them, in the templates and in the snippets themselves, points there instead.
        folders = {
            target: self.prefix / "mounts" / target.strip("/")
            for target in binds
            if target not in templates and target not in scripts
        }
        folders.update({target: self.certificates for target in volumes})
        folders.update({target: self.prefix / local for target, local in CONTAINER_PATHS.items()})
        for target, copy in folders.items():
            if target in binds:
                shutil.copytree(binds[target], copy)
                for conf in copy.rglob("*.conf"):
                    conf.write_text(self.localized(conf.read_text(), folders))
        self.certificates.mkdir(parents=True, exist_ok=True)
        self.env = sourced([binds[target] for target in scripts if target.endswith(".envsh")], self.env)
        for target, source in templates.items():
            rendered = render_template(source.read_text(), self.env, self.env["NGINX_ENVSUBST_FILTER"])
            output = self.prefix / "conf.d" / Path(target).relative_to(TEMPLATES).with_suffix("")
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(self.localized(rendered, folders))
        (self.prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=self.prefix))
        self.run_entrypoint_scripts([binds[target] for target in scripts if target.endswith(".sh")])
        return self.prefix / "nginx.conf"

    def run_entrypoint_scripts(self, scripts: list[Path]) -> None:
        """The image's `*.sh` steps, with the container's paths moved under the prefix and `nginx` on PATH
        meaning this server (the watcher runs `nginx -t` and `nginx -s reload`)."""
        bin_dir = self.prefix / "bin"
        bin_dir.mkdir()
        wrapper = bin_dir / "nginx"
        wrapper.write_text(f'#!/bin/sh\nexec {" ".join(self.command)} "$@"\n')
        wrapper.chmod(0o755)
        env = {
            **os.environ,
            **self.env,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "NGINX_CERTIFICATES_DIR": str(self.certificates),
            "NGINX_TLS_DIR": str(self.prefix / "tls"),
            "NGINX_TEMPORARY_TLS_DIR": str(self.prefix / "tls-temporary"),
            "NGINX_CERTIFICATE_CHECK_SECONDS": str(self.certificate_check_seconds),
        }
        for script in scripts:
            with open(self.prefix / "entrypoint.log", "a") as log:
                # A session of its own: what the script leaves running (the watcher) is stopped with it.
                process = subprocess.Popen([str(script)], env=env, stdout=log, stderr=log, start_new_session=True)
                self.sessions.append(process.pid)
                if process.wait(timeout=60) != 0:
                    raise RuntimeError(f"{script.name} failed:\n{self.entrypoint_log()}")

    def entrypoint_log(self) -> str:
        path = self.prefix / "entrypoint.log"
        return path.read_text() if path.exists() else ""

    def test_config(self) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, "-t"], capture_output=True, text=True)

    def start(self) -> NginxServer:
        self.configure()
        checked = self.test_config()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        self.process = subprocess.Popen(
            [*self.command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for port in (self.app_port, self.glitchtip_port):
            wait_for_port(port, self.process, what="nginx")
        if self.env["NGINX_TLS"] == "on":
            wait_for_port(self.https_port, self.process, what="nginx")
        return self

    def stop(self):
        for session in self.sessions:
            try:
                os.killpg(session, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.process:
            stop(self.process, timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)
