"""``python -m bench``: run the benchmarks, write the results and the performance page.

Sections (``--only``): inprocess, uvicorn (also gives rss), probes,
metrics_scale, failover, fleet, drain, profile.  A section that fails or whose
feature is missing is recorded as not available; the others still run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    drain,
    failover,
    fleet,
    inprocess,
    metrics_scale,
    probes,
    profiling,
    report,
    throughput,
)
from bench.configs import select
from bench.load import Loader, ensure_wrk
from bench.machine import OtherWork, describe, load_average
from bench.procs import ROOT, describe_error
from bench.targets import evaluate

SECTIONS = (
    "inprocess",
    "uvicorn",
    "probes",
    "metrics_scale",
    "failover",
    "fleet",
    "drain",
    "profile",
)
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Plan:
    """How much of everything to do."""

    inprocess_rounds: int
    inprocess_requests: int
    inprocess_warmup: int
    uvicorn_rounds: int
    uvicorn_seconds: float
    uvicorn_warmup: float
    connections: int
    probe_seconds: float
    paced_probe_seconds: float
    series: tuple[int, ...]
    scrapes: int
    crash_failovers: int
    clean_failovers: int
    drain_counts: tuple[int, ...]
    drain_hold: float
    profile_requests: int
    cheap_route_seconds: float
    fleet_sizes: tuple[int, ...]
    fleet_window: float


FULL = Plan(
    15,
    2000,
    1000,
    8,
    2,
    1,
    32,
    10,
    20,
    (1000, 10000),
    20,
    3,
    2,
    (10, 100),
    1.0,
    20000,
    8,
    (10, 100, 500),
    10,
)
QUICK = Plan(
    3, 300, 100, 1, 1, 0, 32, 1.0, 1.5, (1000, 10000), 3, 1, 0, (10,), 0.5, 1000, 1, (10,), 2
)

_started = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


def _ours_rps(results: dict[str, Any]) -> float | None:
    """The default install's median throughput, when this run measured it."""
    uvicorn = results.get("uvicorn")
    ours = uvicorn.get("configs", {}).get("ours", {}) if isinstance(uvicorn, dict) else {}
    rps = ours.get("median_rps")
    return float(rps) if rps else None


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 1 min)")
    parser.add_argument("--only", help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--configs", help="comma-separated configurations (bare is always added)")
    parser.add_argument("--requests", type=int, help="in-process requests per round")
    parser.add_argument("--rounds", type=int, help="in-process rounds")
    parser.add_argument("--out", type=Path, help="results file (default under bench/results/)")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="render docs/performance.md (default: only for a full run)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    other_work = OtherWork()
    plan = QUICK if args.quick else FULL
    sections = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(
            f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}"
        )
    configs = select(args.configs.split(",") if args.configs else None)
    complete = not args.only and not args.configs and not args.requests and not args.rounds
    mode = "quick" if args.quick else ("full" if complete else "partial")
    out = args.out or RESULTS / f"{mode}.json"
    docs = args.docs if args.docs is not None else mode == "full"

    results: dict[str, Any] = {
        "schema": 1,
        "mode": mode,
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": describe(),
        "configurations": [
            {
                "name": c.name,
                "label": c.label,
                "module": c.module,
                "role": c.role,
                "description": c.describe(),
            }
            for c in configs
        ],
    }
    loader = Loader(
        ensure_wrk(log) if {"uvicorn", "probes"} & set(sections) else None, plan.connections
    )
    steps: dict[str, Callable[[], Any]] = {
        "inprocess": lambda: inprocess.run(
            configs,
            args.rounds or plan.inprocess_rounds,
            args.requests or plan.inprocess_requests,
            plan.inprocess_warmup,
            log,
        ),
        "uvicorn": lambda: throughput.run(
            configs, loader, plan.uvicorn_rounds, plan.uvicorn_seconds, plan.uvicorn_warmup, log
        ),
        "probes": lambda: probes.run(
            loader, plan.probe_seconds, plan.paced_probe_seconds, log, _ours_rps(results)
        ),
        "metrics_scale": lambda: metrics_scale.run(
            list(plan.series), plan.scrapes, log, plan.cheap_route_seconds
        ),
        "failover": lambda: failover.run(plan.crash_failovers, plan.clean_failovers, log),
        "fleet": lambda: fleet.run(list(plan.fleet_sizes), plan.fleet_window, log),
        "drain": lambda: drain.run(list(plan.drain_counts), plan.drain_hold, log),
        "profile": lambda: profiling.run(plan.profile_requests, log),
    }
    for name in SECTIONS:
        if name not in sections:
            continue
        log(f"{name} …")
        try:
            value = steps[name]()
        except Exception as exc:
            traceback.print_exc()
            value = describe_error(exc)
            if name == "uvicorn":
                value = (value, value)
        if name == "uvicorn":
            results["uvicorn"], results["rss"] = value
        else:
            results[name] = value
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")  # keep what we have if interrupted

    results["load_average_at_end"] = load_average()
    results["other_work"] = other_work.result()
    results["elapsed_s"] = round(time.monotonic() - _started, 1)
    results["targets"] = evaluate(results)
    out.write_text(json.dumps(results, indent=1) + "\n")
    log(f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    for row in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
        log(f"  {row['target']}: {row['value']} {row['unit']} ({row['bound']}) → {verdict}")
    if docs:
        log(f"docs: {report.write(results).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
