"""Requests per second behind a real uvicorn process, and the memory each setup holds.

Every configuration runs in its own single-worker uvicorn (access log off),
all started before the first round and idle while another is loaded.  Each
round loads every server once, in rotating order, with the same generator and
the same duration; a configuration's score is the median over rounds of its
throughput divided by bare's in the same round.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from bench.apps.common import REQUEST_PATH
from bench.configs import Config
from bench.load import Loader
from bench.procs import Uvicorn, http_get, otlp_sink, running
from bench.stats import median, rounded

Log = Callable[[str], None]
MB = 1024 * 1024


def _unavailable_reason(server: Uvicorn, config: Config) -> str | None:
    status, body = http_get(server.port, REQUEST_PATH)
    if status != 200:
        return f"benchmark route answered {status}"
    if config.traces:
        status, body = http_get(server.port, "/bench/span")
        if status != 200 or json.loads(body).get("recording") is not True:
            return "tracing is not active: no recording span inside the route"
    return None


def run(
    configs: list[Config], loader: Loader, rounds: int, seconds: float, warmup: float, log: Log
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``uvicorn`` and ``rss`` sections of the results."""
    results: dict[str, Any] = {
        "method": f"single-worker uvicorn per configuration (--no-access-log, h11/asyncio); "
        f"{loader.generator} with {loader.connections} keep-alive connections for {seconds:g} s "
        f"per round; rounds interleaved in rotating order; ratio to bare within each round; "
        f"server CPU per request read from the server process's CPU times",
        "generator": loader.generator,
        "connections": loader.connections,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "configs": {},
    }
    rss: dict[str, Any] = {
        "method": "resident set size of each uvicorn process, after startup and after the "
        "throughput rounds",
        "configs": {},
    }
    with ExitStack() as stack:
        env: dict[str, str] = {}
        if any(config.traces for config in configs):
            env.update(stack.enter_context(otlp_sink()))
        servers = {
            config.name: Uvicorn(f"uvicorn-{config.name}", config.target, env) for config in configs
        }
        stack.enter_context(running(*servers.values()))
        for server in servers.values():
            server.start()
        live: list[tuple[Config, Uvicorn]] = []
        for config in configs:
            server = servers[config.name]
            entry: dict[str, Any] = {"label": config.label, "role": config.role}
            results["configs"][config.name] = entry
            try:
                server.wait_ready(REQUEST_PATH, timeout=120)
                reason = _unavailable_reason(server, config)
            except RuntimeError as exc:
                reason = str(exc)
            entry["available"] = reason is None
            if reason is not None:
                entry["reason"] = reason
                log(f"  {config.name}: not available ({reason.splitlines()[0]})")
                server.stop()
                continue
            entry.update(
                rps=[],
                ratio_to_bare=[],
                server_cpu_us_per_request=[],
                latency_p50_ms=[],
                latency_p99_ms=[],
                errors=0,
            )
            rss["configs"][config.name] = {
                "label": config.label,
                "startup_mb": server.rss_bytes() / MB,
            }
            live.append((config, server))

        for _, server in live:
            loader.run(server.port, REQUEST_PATH, warmup)
        for index in range(rounds):
            shift = index % len(live) if live else 0
            scores: dict[str, float] = {}
            for config, server in live[shift:] + live[:shift]:
                cpu_before = server.cpu_seconds()
                result = loader.run(server.port, REQUEST_PATH, seconds)
                cpu = server.cpu_seconds() - cpu_before
                entry = results["configs"][config.name]
                entry["rps"].append(round(result.rps, 1))
                entry["server_cpu_us_per_request"].append(
                    round(cpu / max(result.requests, 1) * 1e6, 1)
                )
                entry["latency_p50_ms"].append(rounded(result.latency_p50_ms, 3))
                entry["latency_p99_ms"].append(rounded(result.latency_p99_ms, 3))
                entry["errors"] += result.non_2xx + result.socket_errors
                scores[config.name] = result.rps
            for name, value in scores.items():
                if "bare" in scores:
                    results["configs"][name]["ratio_to_bare"].append(
                        round(value / scores["bare"], 4)
                    )
            log(
                f"  round {index + 1}/{rounds}: "
                + ", ".join(f"{k} {v:.0f}" for k, v in scores.items())
            )
        for config, server in live:
            entry = rss["configs"][config.name]
            entry["after_load_mb"] = server.rss_bytes() / MB
            if not server.alive():
                results["configs"][config.name]["died"] = True
    summarise(results, rss)
    return results, rss


def summarise(results: dict[str, Any], rss: dict[str, Any]) -> None:
    """Medians, and RSS added relative to bare."""
    for entry in results["configs"].values():
        if entry.get("rps"):
            entry["median_rps"] = rounded(median(entry["rps"]), 1)
            entry["median_ratio_to_bare"] = rounded(median(entry["ratio_to_bare"]), 3)
            entry["median_server_cpu_us_per_request"] = rounded(
                median(entry["server_cpu_us_per_request"]), 1
            )
            entry["median_latency_p50_ms"] = rounded(median(entry["latency_p50_ms"]), 3)
            entry["median_latency_p99_ms"] = rounded(median(entry["latency_p99_ms"]), 3)
    bare_cpu = results["configs"].get("bare", {}).get("median_server_cpu_us_per_request")
    for entry in results["configs"].values():
        cpu = entry.get("median_server_cpu_us_per_request")
        if bare_cpu and cpu:
            entry["cpu_ratio_to_bare"] = rounded(bare_cpu / cpu, 3)
    bare = rss["configs"].get("bare")
    for entry in rss["configs"].values():
        for key in ("startup_mb", "after_load_mb"):
            entry[key] = rounded(entry.get(key), 1)
        if bare and entry.get("after_load_mb") is not None:
            entry["added_mb"] = rounded(entry["after_load_mb"] - bare["after_load_mb"], 1)
            entry["added_at_startup_mb"] = rounded(entry["startup_mb"] - bare["startup_mb"], 1)
