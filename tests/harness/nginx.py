"""Real nginx (Debian's binary) with the bundle's templates, rendered the way the official image does.

Which files are templates and where the snippets come from is read from the nginx service's
mounts in compose.yml, so the test runs exactly what the container would.
"""
from __future__ import annotations

import os
import re
import shutil
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


def nginx_mounts() -> dict[str, Path]:
    """The nginx service's bind mounts in compose.yml: container path -> file or folder in the repo."""
    service = yaml.safe_load((REPO / "compose.yml").read_text())["services"]["nginx"]
    mounts = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = (REPO / source).resolve()
    return mounts


def render_template(template: str, env: dict[str, str], filter_pattern: str) -> str:
    """What 20-envsubst-on-templates.sh does: envsubst limited to the defined variables matching the filter."""
    names = [name for name in env if re.search(filter_pattern, name)]
    result = subprocess.run([find_binary("envsubst"), " ".join(f"${{{n}}}" for n in names)], input=template,
                            env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return result.stdout


class NginxServer:
    def __init__(self, app_upstream: str, glitchtip_upstream: str, trusted_proxy_cidr: str = "192.0.2.1/32"):
        self.app_port = free_port()
        self.glitchtip_port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="mf-nginx-"))
        self.prefix.chmod(0o755)  # workers run as an unprivileged user when the tests run as root
        # The variables compose.yml gives the nginx service, with test ports and upstreams.
        self.env = {
            "NGINX_ENVSUBST_FILTER": "^NGINX_",
            "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
            "NGINX_APP_LISTEN_PORT": str(self.app_port),
            "NGINX_GLITCHTIP_LISTEN_PORT": str(self.glitchtip_port),
            "NGINX_APP_UPSTREAM": app_upstream,
            "NGINX_GLITCHTIP_UPSTREAM": glitchtip_upstream,
            "NGINX_TRUSTED_PROXY_CIDR": trusted_proxy_cidr,
        }
        self.process: subprocess.Popen | None = None

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def glitchtip_url(self) -> str:
        return f"http://127.0.0.1:{self.glitchtip_port}"

    def configure(self) -> Path:
        (self.prefix / "conf.d").mkdir()
        mounts = nginx_mounts()
        templates = {target: source for target, source in mounts.items() if target.startswith("/etc/nginx/templates/")}
        assert templates, "compose.yml mounts no template into the nginx service"
        # The other mounts (snippets, the error page) are copied under the prefix, and every path to
        # them, in the templates and in the snippets themselves, points there instead.
        folders = {target: self.prefix / "mounts" / target.strip("/") for target in mounts if target not in templates}

        def localized(text: str) -> str:
            for target, copy in folders.items():
                text = text.replace(target, str(copy))
            return text

        for target, copy in folders.items():
            shutil.copytree(mounts[target], copy)
            for conf in copy.rglob("*.conf"):
                conf.write_text(localized(conf.read_text()))
        for target, source in templates.items():
            rendered = render_template(source.read_text(), self.env, self.env["NGINX_ENVSUBST_FILTER"])
            (self.prefix / "conf.d" / Path(target).name.removesuffix(".template")).write_text(localized(rendered))
        (self.prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=self.prefix))
        return self.prefix / "nginx.conf"

    def test_config(self) -> subprocess.CompletedProcess:
        return subprocess.run([find_binary("nginx", ["/usr/sbin"]), "-t", "-p", str(self.prefix), "-c",
                               str(self.prefix / "nginx.conf")], capture_output=True, text=True)

    def start(self) -> NginxServer:
        self.configure()
        checked = self.test_config()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        self.process = subprocess.Popen([find_binary("nginx", ["/usr/sbin"]), "-p", str(self.prefix), "-c",
                                         str(self.prefix / "nginx.conf"), "-g", "daemon off;"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.app_port, self.process, what="nginx")
        wait_for_port(self.glitchtip_port, self.process, what="nginx")
        return self

    def stop(self):
        if self.process:
            stop(self.process, timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)
