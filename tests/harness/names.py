"""Host names that exist only in a test, resolved in the test's own process.

A test's site names (forecast.example.test...) have no DNS: Pebble learns them from
pebble-challtestsrv, and this process from here. Everything that connects by name in it (requests,
sentry-sdk, bench/probe.py's prober) reaches the given address, while TLS still checks the name.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def resolving(addresses: dict[str, str]) -> Iterator[None]:
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return original(addresses.get(host, host), *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = original  # type: ignore[assignment]
