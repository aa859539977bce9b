"""A throwaway redis-server on loopback."""

from __future__ import annotations

import subprocess

from tests.harness.processes import ReservedPort, find_binary, stop, wait_for_port


class RedisServer:
    def __init__(self):
        """Only reserves the port: `start` runs the server."""
        self.reserved = ReservedPort()
        self.port = self.reserved.number
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                find_binary("redis-server"),
                "--port",
                str(self.reserved.release()),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--databases",
                "16",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, what="redis-server")
        return self

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self):
        if self.process:
            stop(self.process)
