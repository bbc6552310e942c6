"""Microseconds added per request, driving each app directly (no sockets).

Every configuration lives in a worker process of its own (``bench.worker``),
started once and warmed up.  Rounds are interleaved: in each round every worker
times the same number of requests, one after another in a rotating order, so
drift in the machine's load touches all configurations alike.  The added cost
of a configuration is the median over rounds of (its µs/request − bare's
µs/request in the same round).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import Any

from bench.configs import Config
from bench.procs import LOG_DIR, ROOT, bench_env, otlp_sink
from bench.stats import median, rounded

Log = Callable[[str], None]


class Worker:
    """A ``bench.worker`` process and its line protocol."""

    def __init__(self, config: Config, warmup: int, env: Mapping[str, str]) -> None:
        self.config = config
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.stderr_path = LOG_DIR / f"worker-{config.name}.log"
        cmd = [sys.executable, "-m", "bench.worker", "--config", config.name]
        cmd += ["--warmup", str(warmup)]
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                cmd,
                cwd=str(ROOT),
                env=bench_env(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def reply(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"worker {self.config.name} silent for {timeout:g}s") from None
        if line is None:
            tail = self.stderr_path.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"worker {self.config.name} exited:\n{tail}")
        result: dict[str, Any] = json.loads(line)
        return result

    def send(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self.reply(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


def run(configs: list[Config], rounds: int, requests: int, warmup: int, log: Log) -> dict[str, Any]:
    """Measure every configuration; the ``inprocess`` section of the results."""
    results: dict[str, Any] = {
        "method": "sequential requests driven straight into the ASGI app (no sockets); "
        "one process per configuration; rounds interleaved in rotating order; medians; "
        "primary figure = process CPU time per request (robust to other load), wall time kept",
        "rounds": rounds,
        "requests_per_round": requests,
        "warmup_requests": warmup,
        "configs": {},
    }
    with ExitStack() as stack:
        env: dict[str, str] = {}
        if any(config.traces for config in configs):
            env.update(stack.enter_context(otlp_sink()))
        workers = [Worker(config, warmup, env) for config in configs]
        for worker in workers:
            stack.callback(worker.close)
        live: list[Worker] = []
        for worker in workers:
            entry: dict[str, Any] = {"label": worker.config.label, "role": worker.config.role}
            try:
                ready = worker.reply(timeout=180)
            except (TimeoutError, RuntimeError) as exc:
                ready = {"available": False, "reason": str(exc)}
            entry["available"] = bool(ready.get("available"))
            if not entry["available"]:
                entry["reason"] = ready.get("reason")
                log(f"  {worker.config.name}: not available ({entry['reason']})")
            else:
                entry["us_per_request"] = []
                entry["wall_us_per_request"] = []
                entry["errors"] = 0
                live.append(worker)
            results["configs"][worker.config.name] = entry

        for index in range(rounds):
            shift = index % len(live) if live else 0
            for worker in live[shift:] + live[:shift]:
                reply = worker.send({"cmd": "run", "count": requests}, timeout=600)
                entry = results["configs"][worker.config.name]
                entry["us_per_request"].append(round(reply["cpu"] / requests * 1e6, 2))
                entry["wall_us_per_request"].append(round(reply["wall"] / requests * 1e6, 2))
                entry["errors"] += reply["errors"]
            log(f"  round {index + 1}/{rounds} done")
    summarise(results)
    return results


def summarise(results: dict[str, Any]) -> None:
    """Medians, paired added cost against bare, and the ratios the targets use."""
    configs = results["configs"]
    for prefix in ("", "wall_"):
        bare = configs.get("bare", {}).get(f"{prefix}us_per_request", [])
        for entry in configs.values():
            samples = entry.get(f"{prefix}us_per_request")
            if not samples:
                continue
            entry[f"{prefix}median_us"] = rounded(median(samples))
            if bare and len(bare) == len(samples):
                added = [value - base for value, base in zip(samples, bare, strict=True)]
                entry[f"{prefix}added_us"] = rounded(median(added))
    ours = configs.get("ours", {}).get("added_us")
    pfi = configs.get("pfi", {}).get("added_us")
    results["ours_added_over_pfi_added"] = (
        rounded(ours / pfi, 3) if ours is not None and pfi else None
    )
