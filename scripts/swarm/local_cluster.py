"""A real three-node Docker Swarm on one Linux machine, with a registry, for the rehearsal
(deploy/swarm/rehearse, scripts/swarm/rehearsal.py).

    this machine's engine     manager, 10.77.0.1 on the bridge mfbr0    labels edge, app
    mfnode1                   a dockerd in a network namespace, 10.77.0.11  label data
    mfnode2                   a dockerd in a network namespace, 10.77.0.12  label app
    registry                  Debian's docker-registry on 10.77.0.1:5000, TLS with a CA of its own

Each extra engine runs in a network namespace of its own (and a UTS namespace, so that the swarm
shows it by its own host name), with its own data root, and pulls nothing from outside: images
come from the registry. Every engine trusts the registry's CA through
/etc/docker/certs.d/10.77.0.1:5000/ca.crt, which the engines read at each pull and push, so the
machine's engine needs no restart and no --insecure-registry.

Everything made here is named (the bridge, the namespaces, the engines' pid files) so that
`tear_down()` finds it again, also after a run that was interrupted. The addresses are the
namespaces' own; traffic goes nowhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests

from scripts.stack import engine

BRIDGE = "mfbr0"
PREFIX = 24
MANAGER_ADDRESS = "10.77.0.1"
REGISTRY_PORT = 5000
STATE = Path("/var/lib/migraine-forecast-rehearsal")  # engines' data, registry storage, CA, logs, bundle copy
RUN = Path("/run/migraine-forecast-rehearsal")  # sockets, pid files, engines' exec roots
CERTS_D = Path("/etc/docker/certs.d")
# Seconds a host command (ip, openssl...) may take, and an engine or the registry to answer.
COMMAND_TIMEOUT = 60
START_TIMEOUT = 120


class ClusterError(Exception):
    """Something the rehearsal cannot do here; the message says what and how to fix it."""


def host(
    *argv: str, timeout: float = COMMAND_TIMEOUT, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """A command on the machine (ip, openssl...); its output, or ClusterError with its error output. This
    module starts the rehearsal's processes (host tools, engines, registry); Docker itself is asked
    through scripts/stack/engine.py."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        raise ClusterError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def stream(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float, indent: str) -> tuple[int, list[str]]:
    """Run `argv`, its output shown indented as it comes (long work shows progress); its exit status and
    lines. Stopped (its whole session) after `timeout` seconds."""
    lines = []
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as process:
        timer = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGTERM))
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                print(f"{indent}{line}", end="", flush=True)
                lines.append(line.rstrip())
            status = process.wait()
        finally:
            timer.cancel()
    if not timer.is_alive() and status < 0:
        lines.append(f"(stopped after {timeout:.0f} s)")
    return status, lines


@dataclass(frozen=True)
class Node:
    """An engine in a network namespace of its own."""

    name: str
    address: str
    labels: tuple[str, ...]

    @property
    def socket(self) -> Path:
        return RUN / self.name / "docker.sock"

    @property
    def pid_file(self) -> Path:
        return RUN / self.name / "docker.pid"

    @property
    def data_root(self) -> Path:
        return STATE / "nodes" / self.name

    @property
    def log(self) -> Path:
        return STATE / "logs" / f"{self.name}-dockerd.log"

    def docker(
        self, *args: str, timeout: float = engine.QUERY_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess:
        """`docker -H <this engine> args`, through the one door (scripts/stack/engine.py)."""
        return engine.docker("-H", f"unix://{self.socket}", *args, timeout=timeout, check=check)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def answers(self) -> bool:
        return self.socket.exists() and self.docker("info", "--format", "{{json .ID}}", check=False).returncode == 0


# The nodes in namespaces; the machine's engine is the manager (labels in MANAGER_LABELS).
NODES = (Node("mfnode1", "10.77.0.11", ("data",)), Node("mfnode2", "10.77.0.12", ("app",)))
MANAGER_LABELS = ("edge", "app")
LABEL_PREFIX = "migraine-forecast."


def registry_address(address: str = MANAGER_ADDRESS) -> str:
    return f"{address}:{REGISTRY_PORT}"


# ---- the network: a bridge on this machine, a namespace per node ------------------------------------

# Frames between the nodes cross the bridge, and with the machine's engine running they pass iptables'
# FORWARD chain (bridge-nf-call-iptables), whose policy Docker sets to DROP: without this rule in
# DOCKER-USER (the chain Docker leaves to users) the nodes in namespaces could not reach each other.
FORWARD_RULE = ("DOCKER-USER", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT")


def create_network() -> None:
    host("iptables", "-I", *FORWARD_RULE)
    host("ip", "link", "add", BRIDGE, "type", "bridge")
    host("ip", "addr", "add", f"{MANAGER_ADDRESS}/{PREFIX}", "dev", BRIDGE)
    host("ip", "link", "set", BRIDGE, "up")
    for number, node in enumerate(NODES, 1):
        veth = f"{BRIDGE}v{number}"
        host("ip", "netns", "add", node.name)
        host("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", node.name)
        host("ip", "link", "set", veth, "master", BRIDGE)
        host("ip", "link", "set", veth, "up")
        inside = ("ip", "netns", "exec", node.name)
        host(*inside, "ip", "addr", "add", f"{node.address}/{PREFIX}", "dev", "eth0")
        host(*inside, "ip", "link", "set", "eth0", "up")
        host(*inside, "ip", "link", "set", "lo", "up")
        host(*inside, "ip", "route", "add", "default", "via", MANAGER_ADDRESS)


def network_exists() -> list[str]:
    """What of the network is there: the bridge and the namespaces, by name."""
    found = [BRIDGE] if Path(f"/sys/class/net/{BRIDGE}").exists() else []
    if forward_rule_present():
        found.append(f"the iptables rule {' '.join(FORWARD_RULE)}")
    namespaces = host("ip", "netns", "list").split()
    return found + [node.name for node in NODES if node.name in namespaces]


def forward_rule_present() -> bool:
    checked = subprocess.run(["iptables", "-C", *FORWARD_RULE], capture_output=True, timeout=COMMAND_TIMEOUT)
    return checked.returncode == 0


# ---- the engines --------------------------------------------------------------------------------------


def start_engine(node: Node) -> None:
    """dockerd in the node's network namespace and a UTS namespace named after it. `nsenter --net`, not
    `ip netns exec`: the latter remounts /sys and dockerd then finds no cgroups."""
    for directory in (node.socket.parent, node.data_root, node.log.parent):
        directory.mkdir(parents=True, exist_ok=True)
    script = f'hostname {node.name} && exec dockerd "$@"'
    argv = [
        "nsenter",
        f"--net=/var/run/netns/{node.name}",
        "unshare",
        "--uts",
        "sh",
        "-c",
        script,
        "dockerd",
        "--data-root",
        str(node.data_root),
        "--exec-root",
        str(node.socket.parent / "exec"),
        "--pidfile",
        str(node.pid_file),
        "-H",
        f"unix://{node.socket}",
        "--storage-driver=overlay2",
    ]
    with open(node.log, "a") as log:
        # Its own session: it outlives this process only if the rehearsal is killed (tear_down finds it).
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_until(node.answers, f"the engine of {node.name} to answer (log: {node.log})")


def stop_engine(node: Node, sig: int = signal.SIGTERM) -> None:
    """Stop the node's dockerd as the machine would (SIGTERM: it stops its containers first) and wait
    until it has gone; then nothing of it is left mounted."""
    pid = node.pid()
    if pid is None:
        return
    os.kill(pid, sig)
    try:
        wait_until(lambda: gone(pid), f"the engine of {node.name} to stop", timeout=START_TIMEOUT, every=0.1)
    except ClusterError:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: gone(pid), f"the engine of {node.name} to die", timeout=COMMAND_TIMEOUT, every=0.1)


def gone(pid: int) -> bool:
    """The process has ended; reaped here if this process started it (the engines are its children)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:  # started by an earlier run
        pass
    return not Path(f"/proc/{pid}").exists() or is_zombie(pid)


def wait_until(condition, what: str, timeout: float = START_TIMEOUT, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---- the swarm -------------------------------------------------------------------------------------------


def create_swarm() -> None:
    engine.docker(
        "swarm", "init", "--advertise-addr", MANAGER_ADDRESS, "--listen-addr", f"{MANAGER_ADDRESS}:2377", check=True
    )
    token = engine.docker("swarm", "join-token", "--quiet", "worker", check=True).stdout.strip()
    for node in NODES:
        node.docker("swarm", "join", "--token", token, "--advertise-addr", node.address, f"{MANAGER_ADDRESS}:2377")
    label(manager_id(), MANAGER_LABELS)
    for node in NODES:
        label(node_id(node), node.labels)
    wait_until(lambda: len(ready_nodes()) == 1 + len(NODES), "every node to be Ready")


def label(node: str, roles: tuple[str, ...]) -> None:
    options = [option for role in roles for option in ("--label-add", f"{LABEL_PREFIX}{role}=true")]
    engine.docker("node", "update", *options, node, check=True)


def manager_id() -> str:
    return str(engine.docker_json("info", "--format", "{{json .Swarm.NodeID}}"))


def node_id(node: Node) -> str:
    return str(json.loads(node.docker("info", "--format", "{{json .Swarm.NodeID}}").stdout))


def nodes() -> list[dict]:
    """`docker node ls` of the swarm, as JSON rows."""
    listed = engine.docker("node", "ls", "--format", "{{json .}}", check=True)
    return [json.loads(line) for line in listed.stdout.splitlines() if line]


def ready_nodes() -> list[str]:
    return [row["Hostname"] for row in nodes() if row["Status"] == "Ready"]


def ours() -> bool:
    """Whether the machine's engine is in a swarm this module made (its advertised address is ours)."""
    swarm = engine.docker_json("info", "--format", "{{json .Swarm}}") or {}
    return swarm.get("LocalNodeState") == "active" and swarm.get("NodeAddr") == MANAGER_ADDRESS


# ---- the registry ------------------------------------------------------------------------------------------


@dataclass
class Registry:
    """Debian's docker-registry (the CNCF distribution registry) over TLS, with a CA made for it."""

    address: str  # host:port it listens on and is named by
    directory: Path  # CA, certificate, configuration, storage, log
    process: subprocess.Popen | None = None

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def make_certificates(self) -> None:
        """A CA valid for two days and a server certificate for the registry's IP address, signed by it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        ip = self.address.rsplit(":", 1)[0]
        d = self.directory
        host(
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=migraine-forecast rehearsal CA",
            "-keyout",
            str(d / "ca.key"),
            "-out",
            str(self.ca),
        )
        host(
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={ip}",
            "-keyout",
            str(d / "registry.key"),
            "-out",
            str(d / "registry.csr"),
        )
        (d / "san.ext").write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n")
        host(
            "openssl",
            "x509",
            "-req",
            "-in",
            str(d / "registry.csr"),
            "-CA",
            str(self.ca),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(d / "san.ext"),
            "-out",
            str(d / "registry.crt"),
        )

    def configuration(self) -> dict:
        """The registry's config.yml (JSON is YAML): filesystem storage, TLS, no authentication (it listens
        on the rehearsal's bridge only)."""
        return {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(self.directory / "storage")}, "delete": {"enabled": True}},
            "http": {
                "addr": self.address,
                "tls": {
                    "certificate": str(self.directory / "registry.crt"),
                    "key": str(self.directory / "registry.key"),
                },
            },
        }

    def start(self) -> None:
        config = self.directory / "config.yml"
        config.write_text(json.dumps(self.configuration(), indent=2))
        with open(self.directory / "registry.log", "a") as log:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.directory / "registry.pid").write_text(str(self.process.pid))
        wait_until(
            self.answers,
            f"the registry on {self.address} (log: {self.directory / 'registry.log'})",
            timeout=COMMAND_TIMEOUT,
        )

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ClusterError(f"the registry exited ({self.process.returncode}): see {self.directory}/registry.log")
        try:
            # The API's base endpoint answers 200 to a client that needs no credentials; verified with the CA.
            return requests.get(f"https://{self.address}/v2/", verify=str(self.ca), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def trust(self) -> Path:
        """Every engine of the machine trusts the CA for this registry's address (read at each pull and push)."""
        target = CERTS_D / self.address / "ca.crt"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.ca, target)
        return target

    def stop(self) -> None:
        pid_file = self.directory / "registry.pid"
        try:
            pid = int(pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        wait_until(lambda: gone(pid), "the registry to stop", timeout=30)


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def port_free(port: int, address: str = "0.0.0.0") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


# ---- tearing down -------------------------------------------------------------------------------------------

# docker_gwbridge: made by the machine's engine when it joins a swarm, left behind when it leaves.
GWBRIDGE = "docker_gwbridge"
MADE = STATE / "made.json"  # what was there before the rehearsal (it removes only what it made)


def remember_before() -> None:
    """Note what existed before the cluster was made, for tear_down (also a later one, after a crash)."""
    STATE.mkdir(parents=True, exist_ok=True)
    existed = engine.docker("network", "inspect", GWBRIDGE).returncode == 0
    MADE.write_text(json.dumps({"gwbridge_existed": existed, "certs_d_existed": CERTS_D.exists()}))


def tear_down(registry: Registry, stack: str) -> tuple[list[str], list[str]]:
    """Remove whatever of the cluster exists, in the reverse order of making it; each step on its own, so
    that what a failed or interrupted run left is removed too. Returns (what was done, what failed)."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("the stack and the swarm on this engine", lambda: leave_swarm(stack)),
        *[(f"the engine of {node.name}", partial(stop_engine, node)) for node in NODES],
        ("the registry", registry.stop),
        (f"images named {registry.address}/... on this engine", partial(untag, f"{registry.address}/")),
        ("the network namespaces and the bridge", remove_network),
        (str(CERTS_D / registry.address), partial(remove, CERTS_D / registry.address)),
        (f"{GWBRIDGE} and {CERTS_D}, if made here", remove_what_was_not_there),
        *[(str(directory), partial(remove, directory)) for directory in (STATE / "nodes", registry.directory, RUN)],
    ]
    done, failed = [], []
    for what, step in steps:
        try:
            step()
            done.append(what)
        except (ClusterError, engine.EngineError, OSError) as exc:
            failed.append(f"{what}: {exc}")
    return done, failed


def leave_swarm(stack: str) -> None:
    if not ours():
        return
    engine.docker("stack", "rm", stack, timeout=120)
    label = f"label=com.docker.stack.namespace={stack}"
    # Until this engine's running task containers have stopped; the exited ones of the jobs stay behind
    # (Swarm keeps them), and go here: they are the stack's, nobody else's.
    wait_until(
        lambda: not engine.docker("ps", "--quiet", "--filter", label).stdout.strip(),
        "the stack's containers on this engine to stop",
        timeout=180,
        every=1,
    )
    exited = engine.docker("ps", "--all", "--quiet", "--filter", label).stdout.split()
    if exited:
        engine.docker("rm", "--force", *exited, timeout=120, check=True)
    engine.docker("swarm", "leave", "--force", timeout=120, check=True)


def untag(prefix: str) -> None:
    """Remove the tags starting with `prefix` (the images themselves stay while another tag names them)."""
    listed = engine.docker("image", "ls", "--format", "{{json .}}", check=True).stdout
    tags = [
        f"{row['Repository']}:{row['Tag']}"
        for row in map(json.loads, listed.splitlines())
        if row["Repository"].startswith(prefix) and row["Tag"] != "<none>"
    ]
    if tags:
        engine.docker("image", "rm", *tags, timeout=120, check=True)


def remove_what_was_not_there() -> None:
    """docker_gwbridge and /etc/docker/certs.d, if the rehearsal made them (MADE)."""
    made = json.loads(MADE.read_text()) if MADE.exists() else {"gwbridge_existed": True, "certs_d_existed": True}
    if not made["gwbridge_existed"] and engine.docker("network", "inspect", GWBRIDGE).returncode == 0:
        engine.docker("network", "rm", GWBRIDGE, check=True)
    if not made["certs_d_existed"] and CERTS_D.exists() and not any(CERTS_D.iterdir()):
        CERTS_D.rmdir()
    MADE.unlink(missing_ok=True)


def remove_network() -> None:
    if forward_rule_present():
        host("iptables", "-D", *FORWARD_RULE)
    existing = network_exists()
    for node in NODES:
        if node.name in existing:
            host("ip", "netns", "del", node.name)
    if BRIDGE in existing:
        host("ip", "link", "del", BRIDGE)


def remove(path: Path) -> None:
    if path.exists():
        unmount_below(path)
        shutil.rmtree(path)


def unmount_below(directory: Path) -> None:
    """What a stopped engine may leave mounted under its data root (overlay layers, shm, netns files)."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{directory}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True, timeout=COMMAND_TIMEOUT)
