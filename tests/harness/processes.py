"""Starting and stopping the real server processes the tests run against."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ReservedPort:
    """A loopback port held (bound, not listening) until its server starts, possibly much later.

    While it is bound, nothing else on the machine gets it: neither another bind to port 0 nor an
    outgoing connection's local port. `release()` hands it over just before the server binds it.
    """

    def __init__(self):
        self._socket: socket.socket | None = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.number: int = self._socket.getsockname()[1]

    def release(self) -> int:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        return self.number


def wait_for_port(
    port: int, process: subprocess.Popen | None = None, timeout: float = 30, what: str = "server"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def find_binary(name: str, extra_dirs=()) -> str:
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed; install it (see .ci/run) to run the tests")
    return found


def as_unprivileged(argv: list[str], user: str) -> list[str]:
    """Postgres refuses to run as root: when we are root, run the command as `user`."""
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv
