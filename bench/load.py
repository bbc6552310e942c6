"""Load generators: ``wrk`` when it is installed, a Python keep-alive loader otherwise.

The bench setup installs wrk from Debian when it is missing and we are root
(``BENCH_NO_INSTALL=1`` prevents that, ``BENCH_LOAD=python`` forces the
fallback).  The Python fallback competes with the server for the cores more than
wrk does, so results say which generator produced them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.procs import ROOT
from bench.stats import percentile

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class LoadResult:
    """What one load run observed."""

    generator: str
    seconds: float
    requests: int
    rps: float
    non_2xx: int
    socket_errors: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk(log: Callable[[str], None]) -> str | None:
    """The wrk binary, installing the Debian package when missing and allowed."""
    if os.environ.get("BENCH_LOAD") == "python":
        log("BENCH_LOAD=python: using the Python load generator")
        return None
    path = shutil.which("wrk")
    if path or os.environ.get("BENCH_NO_INSTALL"):
        return path
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        log("wrk missing: apt-get install -y wrk")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
        path = shutil.which("wrk")
    if path is None:
        log("wrk unavailable: using the Python load generator")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str, seconds: float) -> LoadResult:
    """Requests/sec, latency percentiles and errors from wrk's text output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    return LoadResult(
        generator="wrk",
        seconds=seconds,
        requests=total,
        rps=rps,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_p50_ms=_ms(p50.group(1)) if p50 else None,
        latency_p99_ms=_ms(p99.group(1)) if p99 else None,
    )


async def _client(
    port: int, path: str, deadline: float, latencies: list[float], failures: list[int]
) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (started := time.perf_counter()) < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 400:
                failures[0] += 1
    except (OSError, asyncio.IncompleteReadError):
        failures[1] += 1
    finally:
        writer.close()


def run_python(port: int, path: str, seconds: float, connections: int) -> LoadResult:
    """The fallback: ``connections`` keep-alive clients on one event loop."""
    latencies: list[float] = []
    failures = [0, 0]

    async def main() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_client(port, path, deadline, latencies, failures) for _ in range(connections))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    ms = [value * 1e3 for value in latencies]
    return LoadResult(
        generator="python",
        seconds=seconds,
        requests=len(latencies),
        rps=len(latencies) / elapsed,
        non_2xx=failures[0],
        socket_errors=failures[1],
        latency_p50_ms=percentile(ms, 50),
        latency_p99_ms=percentile(ms, 99),
    )


class Loader:
    """Runs load against a local port in a child process, in the foreground or behind."""

    def __init__(self, wrk: str | None, connections: int) -> None:
        self.wrk = wrk
        self.connections = connections

    @property
    def generator(self) -> str:
        return "wrk" if self.wrk else "python"

    def start(self, port: int, path: str, seconds: float) -> Running:
        """Start a load run; :meth:`Running.result` waits for it."""
        if self.wrk:
            url = f"http://127.0.0.1:{port}{path}"
            seconds = max(1, round(seconds))  # wrk takes whole seconds only
            cmd = [self.wrk, "-t1", f"-c{self.connections}", f"-d{seconds}s", "--latency", url]
        else:
            cmd = [sys.executable, "-m", "bench.load", "--port", str(port), "--path", path]
            cmd += ["--seconds", str(seconds), "--connections", str(self.connections)]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT)
        )
        return Running(proc, seconds, self.generator)

    def run(self, port: int, path: str, seconds: float) -> LoadResult:
        return self.start(port, path, seconds).result()


class Running:
    """A load run in progress."""

    def __init__(self, proc: subprocess.Popen[str], seconds: float, generator: str) -> None:
        self.proc = proc
        self.seconds = seconds
        self.generator = generator

    def result(self) -> LoadResult:
        out, err = self.proc.communicate(timeout=self.seconds + 60)
        if self.proc.returncode:
            detail = (err or out)[-500:]
            raise RuntimeError(f"{self.generator} failed ({self.proc.returncode}): {detail}")
        if self.generator == "wrk":
            return parse_wrk(out, self.seconds)
        return LoadResult(**json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description="the Python load generator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    result = run_python(args.port, args.path, args.seconds, args.connections)
    print(json.dumps(result.as_dict()))


if __name__ == "__main__":
    main()
