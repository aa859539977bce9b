"""A real HTTP server on loopback for standing in for an outside API.

Subclasses answer requests in the real API's wire format (`route`); tests can queue
one-off answers (a 429, a 500, a malformed body, a slow answer) with `script`, and read
what was asked in `requests`, how many TCP connections clients opened (`connections`: a
client that reuses its connections opens few) and the most requests served at once
(`max_in_flight`: what a client's concurrency bound allows). `hang()` makes it a server that
takes every request and answers none, until `reset()`.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import brotli


def decode_body(body: bytes, encoding: str) -> bytes:
    """Undo Content-Encoding the way GlitchTip's middleware does (gzip, deflate, br)."""
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        return brotli.decompress(body)
    return body


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    received: float = field(default_factory=time.monotonic)

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def json(self):
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str | list[str]] = field(default_factory=dict)  # a list sends the header once per value
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str | list[str]]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body, headers


class FakeHTTPServer:
    """Threaded HTTP server; `route(request) -> Response` is the normal behaviour."""

    name = "fake"
    # False for a server under a benchmark's load: keeping every request would grow without bound.
    record_requests = True

    def __init__(self, port: int = 0):
        self.requests: list[Request] = []
        self.scripted: deque[Response] = deque()
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.hanging = False
        self._release = threading.Event()  # set: the requests held by a hang go (unanswered)
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):  # once per TCP connection; HTTP/1.1 keep-alive serves many requests on it
                super().setup()
                with owner._lock:
                    owner.connections += 1

            def _handle(self):
                owner._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=self.name, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self):
        with self._lock:
            self.requests.clear()
            self.scripted.clear()
            self.connections = 0
            self.max_in_flight = self.in_flight
            self.hanging = False
            release, self._release = self._release, threading.Event()
        release.set()

    def hang(self) -> None:
        """From now on take every request and answer none (an upstream that accepts, then hangs),
        until reset(): the held requests then end without an answer."""
        with self._lock:
            self.hanging = True

    def script(self, *responses: Response) -> None:
        """Answer the next requests with these, in order, before `route` takes over again."""
        with self._lock:
            self.scripted.extend(responses)

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        body = decode_body(body, handler.headers.get("Content-Encoding", ""))
        parts = urlsplit(handler.path)
        request = Request(
            handler.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in handler.headers.items()},
            body,
        )
        with self._lock:
            if self.record_requests:
                self.requests.append(request)
            response = self.scripted.popleft() if self.scripted else None
            hanging, release = self.hanging, self._release
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if hanging:
                release.wait()
                handler.close_connection = True
                return
            self._answer(handler, request, response)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, request: Request, response: Response | None) -> None:
        if response is None:
            response = self.route(request)
        if response.delay:
            time.sleep(response.delay)
        payload, headers = response.encoded()
        try:
            handler.send_response(response.status)
            for key, value in headers.items():
                for item in value if isinstance(value, list) else [value]:
                    handler.send_header(key, item)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to do
