"""An open-loop load generator: requests leave on a fixed schedule, answered or not.

wrk is closed-loop: each connection sends its next request when the last one
is answered, so it always saturates a server and sets how deep the server's
queue is, not how busy it is.  Real traffic does not wait for the server; this
generator sends request *i* at ``start + i / rate`` on a keep-alive connection
that is free at that moment, opening another connection when none is, so the
offered load stays at ``rate`` whatever the server does.  Latency is counted
from the scheduled send time, so a server that falls behind is charged for the
requests that queued behind a slow one (no coordinated omission).

Run as ``python -m bench.paced --port P --path /x --rate R --seconds S``; it
prints one JSON object (:class:`PacedResult`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.procs import ROOT
from bench.stats import percentile, rounded

#: Connections opened before the schedule starts, so early requests do not pay for a connect.
PREOPENED = 8
#: Upper bound on connections; a request that finds none free waits for one (and is charged).
MAX_CONNECTIONS = 256

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class PacedResult:
    """What one paced run offered and observed."""

    generator: str
    seconds: float
    target_rps: float
    requests: int
    rps: float
    non_2xx: int
    socket_errors: int
    connections_opened: int
    send_lag_p99_ms: float | None
    """How late requests left against their schedule (timer granularity, waiting for a free
    connection, or the generator itself falling behind)."""
    latency_p50_ms: float | None
    latency_p99_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Pool:
    """Keep-alive connections, opened on demand up to :data:`MAX_CONNECTIONS`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened = 0

    async def open(self) -> None:
        self.opened += 1
        self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def get(self) -> Connection:
        if self.idle.empty() and self.opened < MAX_CONNECTIONS:
            await self.open()
        return await self.idle.get()

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()


async def _one(
    pool: _Pool,
    request: bytes,
    scheduled: float,
    samples: tuple[list[float], list[float]],
    counts: list[int],
) -> None:
    latencies, lags = samples
    try:
        reader, writer = await pool.get()
        lags.append(time.perf_counter() - scheduled)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        counts[1] += 1
        pool.opened -= 1  # the broken connection is dropped; another may be opened
        return
    latencies.append(time.perf_counter() - scheduled)
    if not 200 <= int(head[9:12]) < 400:
        counts[0] += 1
    pool.idle.put_nowait((reader, writer))


async def _run(port: int, path: str, rate: float, seconds: float) -> PacedResult:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    pool = _Pool(port)
    for _ in range(PREOPENED):
        await pool.open()
    samples: tuple[list[float], list[float]] = ([], [])
    counts = [0, 0]  # non-2xx, socket errors
    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)
    start = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            task = asyncio.create_task(_one(pool, request, start + sent / rate, samples, counts))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    elapsed = time.perf_counter() - start
    pool.close()
    ms = [value * 1e3 for value in samples[0]]
    return PacedResult(
        generator="python, open loop",
        seconds=seconds,
        target_rps=rate,
        requests=len(ms),
        rps=round(len(ms) / elapsed, 1),
        non_2xx=counts[0],
        socket_errors=counts[1],
        connections_opened=pool.opened,
        send_lag_p99_ms=rounded(percentile([lag * 1e3 for lag in samples[1]], 99), 3),
        latency_p50_ms=rounded(percentile(ms, 50), 3),
        latency_p99_ms=rounded(percentile(ms, 99), 3),
    )


def run(port: int, path: str, rate: float, seconds: float) -> PacedResult:
    """Offer ``rate`` requests per second to ``path`` for ``seconds``, in this process."""
    return asyncio.run(_run(port, path, rate, seconds))


class PacedRun:
    """A paced run in a child process, so its CPU is not the prober's."""

    def __init__(self, port: int, path: str, rate: float, seconds: float) -> None:
        cmd = [sys.executable, "-m", "bench.paced", "--port", str(port), "--path", path]
        cmd += ["--rate", f"{rate:.1f}", "--seconds", str(seconds)]
        self.seconds = seconds
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT)
        )

    def result(self) -> PacedResult:
        out, err = self.proc.communicate(timeout=self.seconds + 60)
        if self.proc.returncode:
            detail = (err or out)[-500:]
            raise RuntimeError(f"paced generator failed ({self.proc.returncode}): {detail}")
        return PacedResult(**json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    print(json.dumps(run(args.port, args.path, args.rate, args.seconds).as_dict()))


if __name__ == "__main__":
    main()
