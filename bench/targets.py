"""The project's performance targets, checked against one run's results.

A target whose measurement is missing (a feature not built yet, a section not
run) is reported as ``None`` — neither met nor missed.
"""

from __future__ import annotations

from typing import Any


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _scale(results: dict[str, Any], series: int) -> dict[str, Any]:
    for size in _get(results, "metrics_scale", "sizes") or []:
        if size.get("target_series") == series:
            return dict(size)
    return {}


def _scale_ms(results: dict[str, Any], series: int) -> float | None:
    value = _scale(results, series).get("text", {}).get("median_ms")
    return float(value) if value is not None else None


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: what, the bound, the measured value, met or not."""
    rows: list[dict[str, Any]] = []

    def add(name: str, bound: str, value: float | None, met: bool | None, unit: str = "") -> None:
        rows.append({"target": name, "bound": bound, "value": value, "unit": unit, "met": met})

    ratio = _get(results, "inprocess", "ours_added_over_pfi_added")
    add(
        "default install: added µs/request vs prometheus-fastapi-instrumentator",
        "≤ 0.25 ×",
        ratio,
        None if ratio is None else ratio <= 0.25,
        "×",
    )
    ours = _get(results, "uvicorn", "configs", "ours", "median_ratio_to_bare")
    add(
        "default install: throughput behind uvicorn vs bare",
        "≥ 0.92 ×",
        ours,
        None if ours is None else ours >= 0.92,
        "×",
    )
    tracing = _get(results, "uvicorn", "configs", "ours_tracing", "median_ratio_to_bare")
    add(
        "tracing on (100 %): throughput behind uvicorn vs bare",
        "≥ 0.72 ×",
        tracing,
        None if tracing is None else tracing >= 0.72,
        "×",
    )
    ready = _get(results, "probes", "under_paced_load", "/ready", "p99_ms")
    fraction = _get(results, "probes", "paced_load", "fraction") or 0.5
    add(
        f"/ready p99 under load (open loop at {fraction * 100:.0f} % of max throughput)",
        "< 5 ms",
        ready,
        None if ready is None else ready < 5.0,
        "ms",
    )
    scrape = _scale_ms(results, 10000)
    add(
        "/metrics scrape with 10k series (text, median)",
        "< 100 ms",
        scrape,
        None if scrape is None else scrape < 100.0,
        "ms",
    )
    large = _scale(results, 10000)
    vs_library = large.get("openmetrics_vs_library")
    add(
        "Prometheus's scrape at 10k series (OpenMetrics + gzip): median vs prometheus-client's "
        "own endpoint",
        "≤ 0.5 ×",
        vs_library,
        None if vs_library is None else vs_library <= 0.5,
        "×",
    )
    tail = large.get("openmetrics_p99_vs_median")
    add(
        "Prometheus's scrape at 10k series: p99 vs its median",
        "≤ 2 ×",
        tail,
        None if tail is None else tail <= 2.0,
        "×",
    )
    cheap = (large.get("cheap_route") or {}).get("p99_ratio")
    add(
        "cheap route p99 during back-to-back 10k-series scrapes vs without",
        "≤ 2 ×",
        cheap,
        None if cheap is None else cheap <= 2.0,
        "×",
    )
    failover = _get(results, "failover", "crash_max_s")
    bound = _get(results, "failover", "bound_s")
    add(
        "leader failover after a crash (worst round)",
        f"≤ lease + 1.2 × retry + call timeout = {bound} s"
        if bound
        else "≤ lease + 1.2 × retry + call timeout",
        failover,
        None if failover is None or bound is None else failover <= bound,
        "s",
    )
    sizes = _get(results, "fleet", "sizes") or []
    largest = next((size for size in sizes if size.get("nodes") == 500), None)
    bound = _get(results, "fleet", "election_bound_s")
    seen = None if largest is None else largest.get("all_observed_s")
    add(
        "fleet of 500: every node sees the new leader after the leader's process dies",
        f"≤ lease + retry + call timeout = {bound} s"
        if bound
        else "≤ lease + retry + call timeout",
        seen,
        None if seen is None or bound is None else seen <= bound,
        "s",
    )
    config_bound = _get(results, "fleet", "config_bound_s")
    reach = None if largest is None else largest.get("config_change_s")
    add(
        "fleet of 500: a config change reaches every node",
        f"≤ 2 × poll interval = {config_bound} s" if config_bound else "≤ 2 × poll interval",
        reach,
        None if reach is None or config_bound is None else reach <= config_bound,
        "s",
    )
    cores = None if largest is None else largest.get("redis", {}).get("cpu_cores")
    add(
        "fleet of 500: Redis CPU",
        "< 1 core",
        cores,
        None if cores is None else cores < 1.0,
        "cores",
    )
    return rows
