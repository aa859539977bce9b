"""Host names that exist only in a test, resolved in the test's processes.

A test's site names (forecast.example.test...) have no DNS: Pebble learns them from
pebble-challtestsrv, this process from `resolving()`, and a script the test runs from
`subprocess_environment()`, whose Python resolves them at start (sitecustomize, below).
Everything that connects by name (requests, sentry-sdk, ssl sockets, bench/probe.py's prober)
reaches the given address, while TLS still checks the name.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "TEST_HOST_ADDRESSES"
# Python imports `sitecustomize` at start from its path: the scripts a test runs resolve the test's names too
# (self-contained: the script's own path may not have the tests).
SITECUSTOMIZE = """\
import json, os, socket
if os.environ.get("{variable}"):
    _addresses, _original = json.loads(os.environ["{variable}"]), socket.getaddrinfo
    socket.getaddrinfo = lambda host, *args, **kwargs: _original(_addresses.get(host, host), *args, **kwargs)
"""


def install(addresses: dict[str, str]):
    """Resolve `addresses`' names to their addresses in this process; returns what it replaced."""
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return original(addresses.get(host, host), *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    return original


@contextmanager
def resolving(addresses: dict[str, str]) -> Iterator[None]:
    original = install(addresses)
    try:
        yield
    finally:
        socket.getaddrinfo = original  # type: ignore[assignment]


def subprocess_environment(addresses: dict[str, str], pythonpath: str) -> dict[str, str]:
    """The variables that make a Python subprocess, whose path is `pythonpath`, resolve `addresses`."""
    folder = Path(tempfile.mkdtemp(prefix="mf-names-"))
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(variable=VARIABLE))
    return {VARIABLE: json.dumps(addresses), "PYTHONPATH": os.pathsep.join((str(folder), pythonpath))}
