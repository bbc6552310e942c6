"""A throwaway redis-server on a free port, nothing persisted."""

from __future__ import annotations

import shutil
import socket
import tempfile

from bench.procs import Process, bench_env, free_port, wait_until


class RedisServer(Process):
    """redis-server with persistence off, bound to 127.0.0.1."""

    def __init__(self, binary: str) -> None:
        self.port = free_port()
        workdir = tempfile.mkdtemp(prefix="bench-redis-")
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", workdir]
        super().__init__("redis-server", cmd, bench_env())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def wait_ready(self) -> None:
        wait_until(self._ping, 10, f"redis-server on {self.port}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def find_redis() -> str | None:
    """The redis-server binary (Debian package ``redis-server``), if installed."""
    return shutil.which("redis-server")
