"""A throwaway redis-server on loopback."""
from __future__ import annotations

import subprocess

from tests.harness.processes import find_binary, free_port, stop, wait_for_port


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [find_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--databases", "16"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, what="redis-server")
        return self

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self):
        if self.process:
            stop(self.process)
