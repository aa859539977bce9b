"""A TCP server on loopback that accepts connections and never answers: a hung GlitchTip.

Unlike a closed port (refused at once), a client here connects, sends its request into the
kernel's buffers and then waits for an answer that never comes, until its own timeout.
"""

from __future__ import annotations

import socket
import threading


class BlackHoleServer:
    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[socket.socket] = []  # held open, never read, never answered
        self.thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)

    def dsn(self, key: str, project: int = 1) -> str:
        return f"http://{key}@127.0.0.1:{self.port}/{project}"

    def start(self) -> BlackHoleServer:
        self.thread.start()
        return self

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            self.connections.append(connection)

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        for connection in self.connections:
            connection.close()
