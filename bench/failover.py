"""Leader failover time with two nodes and a real redis-server.

Two uvicorn processes run the Redis-backed coordinator with short lease timings.
A round kills the leader — with SIGKILL (a crash: its lease must expire) or
SIGTERM (a clean stop: it should hand the lease back) — and times, from the
signal, until the survivor reports leadership with a higher fencing epoch.
The bound to meet is lease + 1.2 × retry period + call timeout.

Without a Redis backend in ``fastapi_sentient.cluster`` (both nodes would
claim leadership), the section reports "not available" instead of a number.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from typing import Any

from bench.procs import Uvicorn, fetch, running
from bench.redis_proc import RedisServer, find_redis
from bench.stats import median, rounded

Log = Callable[[str], None]

TIMINGS = {"lease_ttl": 3.0, "renew_deadline": 2.0, "retry_period": 0.5, "call_timeout": 0.25}


def bound_seconds() -> float:
    return TIMINGS["lease_ttl"] + 1.2 * TIMINGS["retry_period"] + TIMINGS["call_timeout"]


def _env(redis_url: str, node_id: str) -> dict[str, str]:
    return {
        "SENTIENT_REDIS_URL": redis_url,
        "SENTIENT_NODE_ID": node_id,
        "SENTIENT_CLUSTER_NAME": "bench",
        "SENTIENT_LEASE_TTL": str(TIMINGS["lease_ttl"]),
        "SENTIENT_RENEW_DEADLINE": str(TIMINGS["renew_deadline"]),
        "SENTIENT_RETRY_PERIOD": str(TIMINGS["retry_period"]),
        "SENTIENT_CLUSTER_CALL_TIMEOUT": str(TIMINGS["call_timeout"]),
        "SENTIENT_HEARTBEAT_INTERVAL": "0.5",
        "SENTIENT_NODE_TTL": "3",
        "SENTIENT_SHUTDOWN_DELAY": "0",
    }


def _view(node: Uvicorn) -> dict[str, Any] | None:
    try:
        status, _, body = fetch(node.port, "/bench/leader", timeout=1.0)
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def _leader(nodes: list[Uvicorn], timeout: float) -> tuple[Uvicorn, dict[str, Any]]:
    """The one node that leads, once exactly one does; raises when none or several."""
    deadline = time.monotonic() + timeout
    views: list[dict[str, Any] | None] = []
    while time.monotonic() < deadline:
        views = [_view(node) for node in nodes]
        leaders = [(n, v) for n, v in zip(nodes, views, strict=True) if v and v["is_leader"]]
        if len(leaders) == 1 and all(views):
            return leaders[0]
        if len(leaders) > 1 and time.monotonic() > deadline - timeout / 2:
            break
        time.sleep(0.02)
    raise LookupError(f"expected exactly one leader, saw {views}")


def _node(redis: RedisServer, name: str) -> Uvicorn:
    node = Uvicorn(f"uvicorn-{name}", "bench.apps.cluster_node:app", _env(redis.url, name))
    node.start().wait_ready("/bench/leader", timeout=60)
    return node


def _round(
    nodes: list[Uvicorn], redis: RedisServer, sig: signal.Signals, serial: int
) -> dict[str, Any]:
    leader, view = _leader(nodes, timeout=bound_seconds() * 3 + 5)
    survivor = next(node for node in nodes if node is not leader)
    started = time.monotonic()
    leader.signal(sig)
    deadline = started + bound_seconds() * 3 + 5
    taken: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        seen = _view(survivor)
        if seen and seen["is_leader"]:
            taken = seen
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    leader.stop()
    nodes.remove(leader)
    nodes.append(_node(redis, f"node-{serial}"))
    if taken is None:
        return {"signal": sig.name, "failover_s": None, "error": "no takeover before deadline"}
    return {
        "signal": sig.name,
        "failover_s": round(elapsed, 3),
        "old_epoch": view["epoch"],
        "new_epoch": taken["epoch"],
        "epoch_increased": (taken["epoch"] or 0) > (view["epoch"] or 0),
    }


def run(crash_rounds: int, clean_rounds: int, log: Log) -> dict[str, Any]:
    """The ``failover`` section of the results."""
    results: dict[str, Any] = {
        "method": "two single-worker uvicorn nodes on one redis-server; kill the leader, poll "
        "the survivor every 10 ms until it leads; time from the signal",
        "timings": TIMINGS,
        "bound_s": bound_seconds(),
    }
    binary = find_redis()
    if binary is None:
        return {
            **results,
            "available": False,
            "reason": "redis-server not installed (Debian package redis-server)",
        }
    redis = RedisServer(binary).start()
    nodes: list[Uvicorn] = []
    with running(redis):
        redis.wait_ready()
        try:
            nodes.extend([_node(redis, "node-a"), _node(redis, "node-b")])
            views = [_view(node) for node in nodes]
            if not all(v and v["has_members"] for v in views):
                return {
                    **results,
                    "available": False,
                    "reason": f"fastapi_sentient.cluster has no Redis coordinator yet ({views[0]})",
                }
            try:
                _leader(nodes, timeout=bound_seconds() * 3 + 5)
            except LookupError as exc:
                return {
                    **results,
                    "available": False,
                    "reason": f"no single leader elected over Redis: {exc}",
                }
            rounds = []
            plan = [signal.SIGKILL] * crash_rounds + [signal.SIGTERM] * clean_rounds
            for serial, sig in enumerate(plan, start=1):
                rounds.append(_round(nodes, redis, sig, serial))
                log(f"  failover after {sig.name}: {rounds[-1].get('failover_s')} s")
        finally:
            for node in nodes:
                node.stop()
    crash = [r["failover_s"] for r in rounds if r["signal"] == "SIGKILL" and r["failover_s"]]
    clean = [r["failover_s"] for r in rounds if r["signal"] == "SIGTERM" and r["failover_s"]]
    return {
        **results,
        "available": True,
        "rounds": rounds,
        "crash_median_s": rounded(median(crash), 3),
        "crash_max_s": rounded(max(crash) if crash else None, 3),
        "clean_median_s": rounded(median(clean), 3),
        "all_taken_over": all(r["failover_s"] is not None for r in rounds),
    }
