"""Processes the benchmarks run: uvicorn servers, the OTLP sink, free ports, polling.

Everything waits by polling a condition until a deadline; nothing sleeps a
guessed amount and hopes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

import psutil

ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = Path(tempfile.gettempdir()) / "fastapi-sentient-bench"
T = TypeVar("T")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02
) -> T:
    """Poll ``condition`` until it returns something truthy; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what} (last error: {last!r})")


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark process: ours without SENTIENT_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTIENT_", "OTEL_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def fetch(
    port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection (``Connection: close``): status, headers, raw body."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(262144):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head:
        return 0, {}, b""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), parsed, body


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """Status and body of one GET on a fresh connection."""
    status, _, body = fetch(port, path, timeout=timeout)
    return status, body


class Process:
    """A child process whose output goes to a log file under the bench log dir."""

    def __init__(self, name: str, cmd: list[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.cmd = cmd
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}.log"

    def start(self) -> Self:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self, tail: int = 2000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:]

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Uvicorn(Process):
    """``python -m uvicorn target`` on a free port, access log off (as in production)."""

    def __init__(
        self,
        name: str,
        target: str,
        env: Mapping[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            *(args or []),
        ]
        super().__init__(name, cmd, bench_env({"SENTIENT_PORT": str(self.port), **(env or {})}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            try:
                return http_get(self.port, path, 0.5)[0] == 200
            except OSError:
                return False

        try:
            wait_until(ready, timeout, f"{self.name} {path}", 0.05)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}\n--- output ---\n{self.output()}") from None


@contextmanager
def running(*procs: Process) -> Iterator[None]:
    """Stop every process on the way out, whatever happened."""
    try:
        yield
    finally:
        for proc in procs:
            proc.stop()


@contextmanager
def otlp_sink() -> Iterator[dict[str, str]]:
    """A local OTLP/HTTP sink; yields the OTEL_* variables that point exporters at it."""
    port = free_port()
    sink = Process(
        "otlp-sink",
        [sys.executable, "-m", "bench.sink", "--port", str(port)],
        bench_env(),
    ).start()
    with running(sink):
        wait_until(lambda: http_get(port, "/")[0] == 200, 10, "OTLP sink")
        yield {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "bench",
        }


def describe_error(exc: BaseException) -> dict[str, Any]:
    """A failed measurement as it is stored in the results."""
    return {"available": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
