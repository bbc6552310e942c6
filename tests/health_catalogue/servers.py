"""A small real HTTP server on loopback that answers each path with a scripted status and body."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Scripted(ThreadingHTTPServer):
    """Routes ``path`` → ``(status, json_body)``; optional basic-auth credentials."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[int, Any]] = {}
        self.credentials: tuple[str, str] | None = None
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, status: int, body: Any = None) -> None:
        self.routes[path] = (status, body)


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def _reply(self, include_body: bool) -> None:
        self.server.requests.append((self.command, self.path))
        expected = self.server.credentials
        if expected is not None:
            token = base64.b64encode(f"{expected[0]}:{expected[1]}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                self._send(401, {"error": "not_authorised"}, include_body)
                return
        status, body = self.server.routes.get(self.path, (404, {"error": "not found"}))
        self._send(status, body, include_body)

    def _send(self, status: int, body: Any, include_body: bool) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if include_body:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._reply(include_body=True)

    def do_HEAD(self) -> None:
        self._reply(include_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is the assertions."""


@contextmanager
def scripted_server() -> Iterator[Scripted]:
    """A :class:`Scripted` server running in a background thread."""
    server = Scripted()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
