"""Coordination at fleet scale: N coordinators against one redis-server.

For each N (10, 100, 500 in a full run), N bare Redis coordinators (what a
replica runs for the cluster, without its app, health loops or HTTP) run
packed many to a process (``bench.fleet_worker``).  Once they agree on a
leader and every node lists every member, the harness measures, at that N:

* the steady-state load on Redis — commands per second (client commands, and
  the commands the scripts run inside Redis), per node and per heartbeat
  interval, and the server's CPU time per second, in total and per node —
  over a window of several heartbeats;
* ``members()`` latency on one node (it reads every member: O(N) by nature);
* how long a configuration change takes to reach every node (each node
  records when its ``on_config_change`` callback ran);
* how long after the leader's process is SIGKILLed (taking the other nodes of
  that process with it) a new leader is elected and every surviving node has
  observed it (each records when its ``new_leader`` event fired).

Times are CLOCK_MONOTONIC, shared by every process on the host.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psutil
import redis

from bench.machine import git_state
from bench.procs import LOG_DIR, ROOT, bench_env
from bench.redis_proc import RedisServer, find_redis
from bench.stats import median, percentile, rounded

Log = Callable[[str], None]

#: Production-shaped timings, shortened so that a run takes minutes.
TIMINGS = {
    "lease_ttl": 5.0,
    "renew_deadline": 3.0,
    "retry_period": 1.0,
    "cluster_call_timeout": 0.5,
    "heartbeat_interval": 1.0,
    "node_ttl": 5.0,
}
PER_PROCESS = 50

#: Commands only a client sends (never run inside our scripts): one round trip each.
CLIENT_CALLS = frozenset(
    {"evalsha", "eval", "info", "publish", "wait", "ping", "subscribe", "script|load", "hello"}
)


def election_bound() -> float:
    """The acceptance bound: lease + retry period + call timeout."""
    return TIMINGS["lease_ttl"] + TIMINGS["retry_period"] + TIMINGS["cluster_call_timeout"]


def config_bound() -> float:
    """Two poll intervals (the watch loop polls every heartbeat interval)."""
    return 2 * TIMINGS["heartbeat_interval"]


class Worker:
    """One ``bench.fleet_worker`` process and its command pipe."""

    def __init__(self, redis_url: str, prefix: str, nodes: int, cluster: str) -> None:
        self.prefix = prefix
        self.nodes = nodes
        settings = json.dumps({**TIMINGS, "cluster_name": cluster})
        cmd = [sys.executable, "-m", "bench.fleet_worker", "--redis", redis_url]
        cmd += ["--prefix", prefix, "--nodes", str(nodes), "--settings", settings]
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"fleet-{prefix}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=str(ROOT),
                env=bench_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"fleet worker {self.prefix} exited:\n{tail}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            try:
                self.ask(cmd="stop")
                self.proc.wait(30)
            except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait(10)


def _states(workers: list[Worker]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for worker in workers:
        if worker.alive():
            nodes += worker.ask(cmd="state")["nodes"]
    return nodes


def _agreed(nodes: list[dict[str, Any]], above_epoch: int = 0) -> tuple[str, int] | None:
    """The leader every node observed (with an epoch above ``above_epoch``), if they agree."""
    seen = {tuple(n["leader"][:2]) if n["leader"] else None for n in nodes}
    if len(seen) != 1:
        return None
    only = next(iter(seen))
    if only is None or only[1] <= above_epoch:
        return None
    leaders = [n for n in nodes if n["is_leader"]]
    if len(leaders) != 1 or leaders[0]["node"] != only[0]:
        return None
    return str(only[0]), int(only[1])


def _wait(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def _redis_load(client: redis.Redis, seconds: float) -> dict[str, Any]:
    def sample() -> tuple[float, int, dict[str, int], float]:
        info = client.info("all")
        calls = {
            k.removeprefix("cmdstat_"): int(v["calls"])
            for k, v in info.items()
            if k.startswith("cmdstat_") and isinstance(v, dict)
        }
        cpu = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        return time.monotonic(), int(info["total_commands_processed"]), calls, cpu

    t0, commands0, calls0, cpu0 = sample()
    time.sleep(seconds)
    t1, commands1, calls1, cpu1 = sample()
    elapsed = t1 - t0
    rates = {
        name: round((count - calls0.get(name, 0)) / elapsed, 1)
        for name, count in calls1.items()
        if count > calls0.get(name, 0)
    }
    return {
        "seconds": round(elapsed, 2),
        "commands_per_s": (commands1 - commands0) / elapsed,
        "scripts_per_s": rates.get("evalsha", 0.0) + rates.get("eval", 0.0),
        "client_calls_per_s": sum(v for k, v in rates.items() if k in CLIENT_CALLS),
        "cpu_cores": (cpu1 - cpu0) / elapsed,
        "by_command_per_s": dict(sorted(rates.items(), key=lambda kv: -kv[1])),
    }


def _size(redis_url: str, client: redis.Redis, n: int, window: float, log: Log) -> dict[str, Any]:
    cluster = f"fleet-{n}"
    processes = max(2, math.ceil(n / PER_PROCESS))
    counts = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    workers: list[Worker] = []
    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        for index, count in enumerate(counts):
            workers.append(Worker(redis_url, f"n{n}p{index}", count, cluster))
        for worker in workers:
            worker.read()  # {"ready": count}
        startup_s = time.monotonic() - started
        leader = _wait(
            lambda: _agreed(_states(workers)), 60 + 0.3 * n, "one leader seen by every node"
        )
        # steady state: every node lists every member (a rolling start makes each node read
        # each joiner's record once, O(N²) in all, and its tail must not be counted as load)
        converged_s: float | None = None
        try:
            _wait(
                lambda: all(node["members"] == n for node in _states(workers)),
                60 + 0.3 * n,
                "every node to list every member",
            )
            converged_s = time.monotonic() - started
        except TimeoutError:
            pass  # measured anyway, and reported as not converged
        log(
            f"  N={n}: {processes} processes up in {startup_s:.1f} s; leader {leader[0]}; "
            + (
                f"every node lists all {n} members after {converged_s:.1f} s"
                if converged_s is not None
                else "some nodes still miss members"
            )
        )

        procs = [psutil.Process(w.proc.pid) for w in workers]
        cpu0 = sum(sum(p.cpu_times()[:2]) for p in procs)
        load = _redis_load(client, window)
        load["node_processes_cpu_cores"] = (
            sum(sum(p.cpu_times()[:2]) for p in procs) - cpu0
        ) / load["seconds"]
        members = workers[0].ask(cmd="members", count=20)

        # a configuration change, from one node to all
        change = workers[-1].ask(cmd="set_config", data={"n": n, "at": time.time()})
        version, sent_at = int(change["version"]), float(change["at"])

        def all_applied() -> list[dict[str, Any]] | None:
            nodes = _states(workers)
            done = all(node["config"] and node["config"][0] >= version for node in nodes)
            return nodes if done else None

        applied = _wait(all_applied, 30, "every node to apply the configuration")
        config_s = max(node["config"][1] for node in applied) - sent_at

        # kill the leader's process
        owner = next(w for w in workers if leader[0].startswith(w.prefix + "-"))
        killed_at = time.monotonic()
        owner.proc.send_signal(signal.SIGKILL)
        owner.proc.wait(10)
        survivors = [w for w in workers if w is not owner]
        after = _wait(
            lambda: (lambda nodes: _agreed(nodes, leader[1]) and nodes)(_states(survivors)),
            election_bound() * 4 + 10,
            "every surviving node to observe a new leader",
        )
        new_leader = _agreed(after, leader[1])
        assert new_leader is not None
        elected_s = (
            next(node["leader"][2] for node in after if node["node"] == new_leader[0]) - killed_at
        )
        everyone_s = max(node["leader"][2] for node in after) - killed_at
        load_after = os.getloadavg()
    finally:
        for worker in workers:
            worker.stop()
    per_node_cpu = load["cpu_cores"] / n
    beat = TIMINGS["heartbeat_interval"]
    return {
        "nodes": n,
        "processes": processes,
        "startup_s": round(startup_s, 2),
        "members_converged_s": None if converged_s is None else round(converged_s, 2),
        "load_average": [round(x, 2) for x in (*load_before, *load_after)],
        "redis": {
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in load.items()},
            "commands_per_s_per_node": round(load["commands_per_s"] / n, 3),
            "scripts_per_s_per_node": round(load["scripts_per_s"] / n, 3),
            "cpu_cores_per_node": round(per_node_cpu, 6),
            "commands_per_heartbeat": round(load["commands_per_s"] / n * beat, 2),
            "client_calls_per_heartbeat": round(load["client_calls_per_s"] / n * beat, 2),
            "cpu_us_per_heartbeat": round(per_node_cpu * beat * 1e6, 1),
        },
        "members": {
            "count": members["members"],
            "median_ms": rounded(median(members["ms"]), 2),
            "p99_ms": rounded(percentile(members["ms"], 99), 2),
        },
        "config_change_s": round(config_s, 3),
        "killed_nodes": owner.nodes,
        "old_leader": list(leader),
        "new_leader": list(new_leader),
        "elected_s": round(elected_s, 3),
        "all_observed_s": round(everyone_s, 3),
        "met": {
            "election": everyone_s <= election_bound(),
            "config": config_s <= config_bound(),
            "redis_cpu": load["cpu_cores"] < 1.0,
        },
    }


def run(sizes: list[int], window: float, log: Log) -> dict[str, Any]:
    """The ``fleet`` section of the results."""
    results: dict[str, Any] = {
        "method": f"N bare Redis coordinators ({PER_PROCESS} per process at most, two processes "
        "at least, each with its own connection pool and Pub/Sub subscription as a replica has; "
        "no app, health loops or HTTP) against one redis-server; once every node lists every "
        f"member (time from the first start), Redis load over {window:g} s of steady state; "
        "members() 20 times on one node; a config change "
        "through one node until every node's callback ran; SIGKILL of the leader's process "
        "until every surviving node observed the new leader",
        "timings": TIMINGS,
        "election_bound_s": election_bound(),
        "config_bound_s": config_bound(),
        "sizes": [],
    }
    git = git_state()
    results["measured"] = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {git.get('commit')}"
        f"{' (with local changes)' if git.get('package_modified') else ''}"
    )
    binary = find_redis()
    if binary is None:
        return {**results, "available": False, "reason": "redis-server not installed"}
    server = RedisServer(binary).start()
    try:
        server.wait_ready()
        client = redis.Redis(port=server.port)
        for n in sizes:
            try:
                entry = _size(server.url, client, n, window, log)
            except (RuntimeError, TimeoutError) as exc:
                # a size this host cannot carry is reported, the smaller ones are kept
                results.setdefault("failed", []).append({"nodes": n, "error": str(exc)[:500]})
                log(f"  N={n}: {exc}")
                continue
            results["sizes"].append(entry)
            log(
                f"  N={n}: Redis {entry['redis']['commands_per_s']:.0f} cmd/s, "
                f"{entry['redis']['cpu_cores']:.3f} cores; members() "
                f"{entry['members']['median_ms']} ms; config to all {entry['config_change_s']} s; "
                f"elected {entry['elected_s']} s, all saw it {entry['all_observed_s']} s"
            )
        client.close()
    finally:
        server.stop()
    largest = results["sizes"][-1] if results["sizes"] else None
    if largest is not None:
        cores_per_node = largest["redis"]["cpu_cores_per_node"]
        commands_per_node = largest["redis"]["commands_per_s_per_node"]
        results["budget_1000"] = {
            "from_nodes": largest["nodes"],
            "commands_per_s": round(commands_per_node * 1000),
            "scripts_per_s": round(largest["redis"]["scripts_per_s_per_node"] * 1000),
            "cpu_cores": round(cores_per_node * 1000, 3),
        }
    return results
