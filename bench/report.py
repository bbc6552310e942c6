"""Render ``docs/performance.md`` from a results file.

``python -m bench.report [results.json]`` re-renders without measuring again.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench import probes
from bench.procs import ROOT
from bench.targets import evaluate

DOC = ROOT / "docs" / "performance.md"
FULL = ROOT / "bench" / "results" / "full.json"

COMMANDS = [
    "make bench                      # everything, ~16 min on 2 cores; writes bench/results/full.json and this page",
    "python -m bench --quick         # smoke run (< 1 min); writes bench/results/quick.json",
    "python -m bench --only inprocess,uvicorn --configs ours,pfi   # a subset, to bench/results/partial.json",
    "python -m bench.report          # re-render this page from bench/results/full.json",
]

#: Other processes' average CPU use above which a run is marked preliminary.
BUSY_CORES = 0.1

FINDINGS_PATH = Path(__file__).with_name("findings.md")
#: Figures the code's comments refer to instead of quoting them (hand-kept, not measured by a run).
DESIGN_FIGURES_PATH = Path(__file__).with_name("design_figures.md")


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _unavailable(section: dict[str, Any] | None) -> str | None:
    if section is None:
        return "not run"
    if section.get("available") is False:
        return f"not available: {section.get('reason') or section.get('error')}"
    return None


def _targets(results: dict[str, Any]) -> list[str]:
    rows = []
    for row in evaluate(results):
        met = {True: "✅ met", False: "❌ missed", None: "– not measured"}[row["met"]]
        value = "–" if row["value"] is None else f"{row['value']:g} {row['unit']}".strip()
        rows.append((row["target"], row["bound"], value, met))
    return ["## Targets", "", *_table(("target", "bound", "measured", ""), rows)]


def _other_work(other: dict[str, Any] | None) -> str:
    if not other:
        return "–"
    return (
        f"{other['other_cpu_s']:g} CPU-s in {other['seconds']:g} s "
        f"({other['other_cores']:g} cores on average); steal {other['steal_s']:g} s"
    )


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    tools = "; ".join(f"{v}" for v in m["tools"].values() if v) or "–"
    rows = [
        ("date (UTC)", m["date"]),
        ("mode", results["mode"]),
        (
            "commit",
            f"{m['git']['commit']}"
            + (" + uncommitted package changes" if m["git"]["package_modified"] else ""),
        ),
        ("CPU", f"{m['nproc']} × {m['cpu_model']}"),
        ("memory", f"{m['memory_gb']} GB"),
        ("OS", m["os"]),
        ("Python", m["python"]),
        ("packages", packages),
        ("tools", tools),
        (
            "load average (1/5/15 min) before → after the run (after includes the run itself)",
            f"{m['load_average_at_start']} → {results.get('load_average_at_end')}",
        ),
        ("other processes during the run", _other_work(results.get("other_work"))),
        ("wall time of the run", f"{results.get('elapsed_s', 0):.0f} s"),
    ]
    return ["## Machine", "", *_table(("", ""), rows)]


def _inprocess(section: dict[str, Any] | None) -> list[str]:
    out = ["## Request overhead, in-process", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    out += [
        f"{section['method']}. {section['rounds']} rounds × {section['requests_per_round']} "
        f"requests after {section['warmup_requests']} warm-up requests. *µs/request* is process "
        "CPU time; *wall* is elapsed time (noisier when other work shares the cores).",
        "",
    ]
    rows = []
    for entry in section["configs"].values():
        if not entry.get("available"):
            rows.append((entry["label"], "not available", "", "", "", entry.get("reason", "")))
            continue
        rows.append(
            (
                entry["label"],
                _fmt(entry.get("median_us")),
                _fmt(entry.get("added_us")),
                _fmt(entry.get("wall_median_us")),
                _fmt(entry.get("wall_added_us")),
                f"{entry['errors']} errors" if entry["errors"] else "",
            )
        )
    out += _table(("configuration", "µs/request", "added µs", "wall µs", "wall added µs", ""), rows)
    ratio = section.get("ours_added_over_pfi_added")
    if ratio is not None:
        out += [
            f"Default install's added cost = **{ratio:g} ×** prometheus-fastapi-instrumentator's "
            "in the same run.",
            "",
        ]
    return out


def _uvicorn(section: dict[str, Any] | None) -> list[str]:
    out = ["## Throughput behind uvicorn", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    out += [f"{section['method']}; {section['rounds']} rounds.", ""]
    rows: list[tuple[str, ...]] = []
    for entry in section["configs"].values():
        if not entry.get("available"):
            reason = (entry.get("reason") or "").splitlines()[0]
            rows.append((entry["label"], "not available", *[""] * 5, reason))
            continue
        rows.append(
            (
                entry["label"],
                _fmt(entry.get("median_rps"), 0),
                f"{_fmt(entry.get('median_ratio_to_bare'), 3)} ×",
                _fmt(entry.get("median_server_cpu_us_per_request"), 0),
                f"{_fmt(entry.get('cpu_ratio_to_bare'), 3)} ×",
                _fmt(entry.get("median_latency_p50_ms"), 2),
                _fmt(entry.get("median_latency_p99_ms"), 2),
                f"{entry['errors']} errors" if entry["errors"] else "",
            )
        )
    out += _table(
        (
            "configuration",
            "req/s",
            "vs bare",
            "server CPU µs/req",
            "bare CPU ÷ this",
            "p50 ms",
            "p99 ms",
            "",
        ),
        rows,
    )
    return [
        *out,
        "*bare CPU ÷ this* is the throughput ratio the server's CPU use predicts; it is "
        "insensitive to other processes taking turns on the cores, so when it and *vs bare* "
        "disagree the machine was busy.",
        "",
    ]


def _rss(section: dict[str, Any] | None) -> list[str]:
    out = ["## Memory", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    rows = [
        (name, _fmt(e.get("startup_mb")), _fmt(e.get("after_load_mb")), _fmt(e.get("added_mb")))
        for name, e in ((e["label"], e) for e in section["configs"].values())
    ]
    return [
        *out,
        f"{section['method']}.",
        "",
        *_table(
            ("configuration", "RSS after startup MB", "RSS after load MB", "added vs bare MB"), rows
        ),
    ]


def _probe_rows(label: str, phase: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            label,
            path,
            s["samples"],
            s["failures"],
            _fmt(s["p50_ms"], 2),
            _fmt(s["p90_ms"], 2),
            _fmt(s["p99_ms"], 2),
            _fmt(s["max_ms"], 2),
        )
        for path, s in phase.items()
    ]


def _busy(load: dict[str, Any]) -> str:
    busy = load.get("server_cpu_busy")
    return "" if busy is None else f", server process busy {busy * 100:.0f} % of one core"


def _probes(section: dict[str, Any] | None) -> list[str]:
    out = ["## Probe latency under load", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    load, light = section["load"], section["light_load"]
    paced = section.get("paced_load")
    phases = [("idle", section["idle"])]
    if paced is not None:
        phases.append((f"open loop, {paced['rps']:,.0f} req/s", section["under_paced_load"]))
    phases += [
        (f"saturated, {load['connections']} connections", section["under_load"]),
        (f"saturated, {light['connections']} connections", section["under_light_load"]),
    ]
    rows = [row for label, phase in phases for row in _probe_rows(label, phase)]
    out += [
        f"{section['method']}. Each probe sends `Connection: close`, as kubelet does, and is "
        "timed from connect to the last byte of the body (kubelet reads by `Content-Length`; "
        f"it does not wait for the server to close); /ready, /live, then a "
        f"{probes.INTERVAL * 1e3:.0f} ms pause ({probes.PACED_INTERVAL * 1e3:.0f} ms under the "
        "open-loop load, for enough samples to trust its p99). The loads:",
        "",
        "- **idle**: nothing but the probes.",
    ]
    if paced is not None:
        out.append(
            f"- **open loop** (the load the target is judged on): `bench/paced.py` offers "
            f"{paced['target_rps']:,.0f} requests per second on keep-alive connections — "
            f"{paced['fraction'] * 100:.0f} % of the default install's maximum throughput, "
            f"{paced['max_rps']:,.0f} req/s ({paced['max_rps_source']}) — on a fixed "
            "schedule, whether or not earlier requests were answered, opening another "
            f"connection when none is free ({paced['connections_opened']} were opened). "
            f"It delivered {paced['rps']:,.0f} req/s{_busy(paced)}; the benchmark route's own "
            f"latency, counted from each request's scheduled send time, p50 "
            f"{_fmt(paced['latency_p50_ms'], 2)} ms, p99 {_fmt(paced['latency_p99_ms'], 2)} ms. "
            "A busy service with headroom."
        )
    out += [
        f"- **saturated** (closed loop): {load['generator']} with {load['connections']} "
        "keep-alive connections, each sending its next request as soon as the last is "
        "answered — the throughput benchmark's load. A closed loop saturates the worker at "
        "any concurrency; the concurrency sets how many requests are queued on the event "
        f"loop ahead of a probe. {load['rps']:,.0f} req/s{_busy(load)}; the route's p99 "
        f"{_fmt(load['latency_p99_ms'], 1)} ms. The same with {light['connections']} "
        f"connections: {light['rps']:,.0f} req/s{_busy(light)}, route p99 "
        f"{_fmt(light['latency_p99_ms'], 1)} ms.",
        "",
        *_table(
            ("load", "probe", "samples", "failures", "p50 ms", "p90 ms", "p99 ms", "max ms"), rows
        ),
    ]
    if paced is not None:
        ready = section["under_paced_load"]["/ready"]
        saturated = section["under_load"]["/ready"]
        calm = section["under_light_load"]["/ready"]
        out += [
            f"The “/ready p99 < 5 ms under load” target is judged on the open-loop load: "
            f"/ready p50 {_fmt(ready['p50_ms'], 2)} ms, p99 {_fmt(ready['p99_ms'], 2)} ms. "
            f"At saturation p99 is higher — {_fmt(saturated['p99_ms'], 2)} ms with "
            f"{load['connections']} connections, {_fmt(calm['p99_ms'], 2)} ms with "
            f"{light['connections']} — because the probe waits behind the requests already "
            "queued on the one event loop, not because answering it costs more (idle, /ready "
            f"answers in {_fmt(section['idle']['/ready']['p50_ms'], 2)} ms at the median).",
            "",
        ]
    return out


_SCALE_FORMATS = {
    "text": "text",
    "openmetrics_gzip": "Prometheus's request: OpenMetrics + gzip",
    "library_openmetrics_gzip": "the same from prometheus-client's own endpoint",
}


def _scale(section: dict[str, Any] | None) -> list[str]:
    out = ["## /metrics at scale", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    rows = []
    for size in section["sizes"]:
        for fmt, label in _SCALE_FORMATS.items():
            s = size.get(fmt)
            if not s:
                continue
            rows.append(
                (
                    s["series"],
                    label,
                    f"{s['bytes']:,}",
                    f"{s['uncompressed_bytes']:,}",
                    _fmt(s["median_ms"], 1),
                    _fmt(s["p90_ms"], 1),
                    _fmt(s.get("p99_ms"), 1),
                    _fmt(s["max_ms"], 1),
                )
            )
    lines = [
        *out,
        f"{section['method']}. Prometheus's request is Prometheus 3's default: "
        f"`Accept: {section.get('prometheus_accept', '')}`, `Accept-Encoding: gzip`.",
        "",
        *_table(
            (
                "series",
                "format",
                "bytes sent",
                "bytes uncompressed",
                "median ms",
                "p90 ms",
                "p99 ms",
                "max ms",
            ),
            rows,
        ),
    ]
    largest = section["sizes"][-1] if section["sizes"] else {}
    if largest.get("openmetrics_vs_library") is not None:
        lines += [
            f"At {largest['openmetrics_gzip']['series']:,} series Prometheus's scrape takes "
            f"**{largest['openmetrics_vs_library']:g} ×** the time of prometheus-client's own "
            f"endpoint (median), and its p99 is {largest['openmetrics_p99_vs_median']:g} × its "
            "median.",
            "",
        ]
    if largest.get("gzip_levels"):
        lines += [
            "gzip of the uncompressed OpenMetrics exposition at each level (in the harness's "
            "process; zlib releases the GIL while it compresses):",
            "",
            *_table(
                ("level", "median ms", "bytes"),
                [
                    (g["level"], _fmt(g["median_ms"], 2), f"{g['bytes']:,}")
                    for g in largest["gzip_levels"]
                ],
            ),
        ]
    cheap = largest.get("cheap_route")
    if cheap:
        quiet, busy = cheap["without_scrapes"], cheap["during_scrapes"]
        lines += [
            f"A cheap route while the exposition renders: {cheap['method']} "
            f"({cheap['scrapes_during']} scrapes during the second run).",
            "",
            *_table(
                ("cheap route", "requests", "p50 ms", "p99 ms"),
                [
                    (
                        "alone",
                        quiet["requests"],
                        _fmt(quiet["latency_p50_ms"], 2),
                        _fmt(quiet["latency_p99_ms"], 2),
                    ),
                    (
                        "during back-to-back scrapes",
                        busy["requests"],
                        _fmt(busy["latency_p50_ms"], 2),
                        _fmt(busy["latency_p99_ms"], 2),
                    ),
                ],
            ),
            f"p99 during scrapes ÷ p99 alone: **{cheap['p99_ratio']:g} ×**.",
            "",
        ]
    return lines


def _fleet(section: dict[str, Any] | None) -> list[str]:
    out = ["## Coordination at fleet scale", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    t = section["timings"]
    rows = []
    for size in section["sizes"]:
        r = size["redis"]
        load = size.get("load_average")
        rows.append(
            (
                size["nodes"],
                size["processes"],
                _fmt(size.get("members_converged_s"), 1),
                f"{r['commands_per_s']:,.0f}",
                _fmt(r.get("commands_per_heartbeat"), 1),
                _fmt(r.get("client_calls_per_heartbeat"), 2),
                _fmt(r["cpu_cores"], 3),
                _fmt(r.get("cpu_us_per_heartbeat"), 0),
                _fmt(r["node_processes_cpu_cores"] / size["nodes"] * 1e3, 2)
                if "node_processes_cpu_cores" in r
                else "–",
                _fmt(size["members"]["median_ms"], 1),
                _fmt(size["members"]["p99_ms"], 1),
                _fmt(size["config_change_s"], 3),
                _fmt(size["elected_s"], 2),
                _fmt(size["all_observed_s"], 2),
                f"{load[0]:g} → {load[3]:g}" if load else "–",
            )
        )
    lines = [
        *out,
        f"{section['method']}. Lease {t['lease_ttl']:g} s, renew deadline "
        f"{t['renew_deadline']:g} s, retry period {t['retry_period']:g} s, call timeout "
        f"{t['cluster_call_timeout']:g} s, heartbeat {t['heartbeat_interval']:g} s, node TTL "
        f"{t['node_ttl']:g} s → election bound (lease + retry + call timeout) "
        f"{section['election_bound_s']:g} s, config bound (2 × poll interval) "
        f"{section['config_bound_s']:g} s.",
        "",
        *_table(
            (
                "nodes",
                "processes",
                "every node lists every member after s",
                "Redis commands/s",
                "commands per node and heartbeat",
                "client calls per node and heartbeat",
                "Redis CPU cores",
                "Redis CPU µs per node and heartbeat",
                "nodes' own CPU ms/s per node",
                "members() median ms",
                "members() p99 ms",
                "config to all s",
                "elected after kill s",
                "all saw it s",
                "load average (1 min) before → after",
            ),
            rows,
        ),
    ]
    if section.get("measured"):
        lines += [f"Measured {section['measured']}.", ""]
    for failed in section.get("failed", []):
        lines += [f"N = {failed['nodes']}: not measured on this host ({failed['error']}).", ""]
    budget = section.get("budget_1000")
    if budget:
        lines += [
            f"Redis budget for 1,000 replicas at these timings (extrapolated: per-node figures "
            f"of the {budget['from_nodes']}-node run × 1,000): about {budget['commands_per_s']:,} "
            f"commands/s ({budget['scripts_per_s']:,} script calls/s) and "
            f"{budget['cpu_cores']:g} of a core.",
            "",
        ]
    return lines


def _failover(section: dict[str, Any] | None) -> list[str]:
    out = ["## Leader failover", ""]
    if section is not None and section.get("timings"):
        t = section["timings"]
        out += [
            f"Lease {t['lease_ttl']:g} s, renew deadline {t['renew_deadline']:g} s, retry period "
            f"{t['retry_period']:g} s, call timeout {t['call_timeout']:g} s → bound {section['bound_s']:g} s.",
            "",
        ]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    rows = [
        (
            r["signal"],
            _fmt(r.get("failover_s"), 3),
            r.get("old_epoch"),
            r.get("new_epoch"),
            r.get("error", ""),
        )
        for r in section["rounds"]
    ]
    return [
        *out,
        f"{section['method']}.",
        "",
        *_table(("leader killed with", "takeover after s", "old epoch", "new epoch", ""), rows),
    ]


def _drain(section: dict[str, Any] | None) -> list[str]:
    out = ["## Drain", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    rows = [
        (
            r["in_flight"],
            _fmt(r["hold_s"], 2),
            f"{r['completed_200']}/{r['in_flight']}",
            _fmt(r["last_response_after_signal_s"], 3),
            _fmt(r["exit_after_signal_s"], 3),
            _fmt(r["exit_after_last_response_s"], 3),
        )
        for r in section["rows"]
    ]
    return [
        *out,
        f"{section['method']}.",
        "",
        *_table(
            (
                "in flight",
                "each held s",
                "answered 200",
                "last response after SIGTERM s",
                "exit after SIGTERM s",
                "exit after last response s",
            ),
            rows,
        ),
    ]


def _profile(section: dict[str, Any] | None) -> list[str]:
    out = ["## Profile of the request path", ""]
    if (reason := _unavailable(section)) is not None:
        return [*out, reason, ""]
    assert section is not None
    out += [
        f"{section['method']}: bare {_fmt(section['bare']['profiled_us_per_request'])} µs, "
        f"default install {_fmt(section['ours']['profiled_us_per_request'])} µs.",
        "",
    ]
    isolated = section.get("isolated")
    if isolated:
        us, added = isolated["us_per_request"], isolated["added_us"]
        out += [
            "The middlewares alone, around a trivial ASGI app that writes the matched route "
            "into the scope as FastAPI's router does (`bench/isolated.py`; "
            f"{isolated['method']}): the app alone {_fmt(us['trivial'], 2)} µs; our tracking "
            f"middleware adds {_fmt(added['ours'], 2)} µs, the minimal counter + histogram "
            f"middleware {_fmt(added['minimal'], 2)} µs.",
            "",
        ]
    out += ["Our code and prometheus_client, by self time:", ""]
    rows = [
        (
            f"`{r['function']}`",
            _fmt(r["calls_per_request"], 0),
            _fmt(r["self_us"], 2),
            _fmt(r["cumulative_us"], 2),
        )
        for r in section["ours"]["ours_by_self_time"]
    ]
    out += _table(("function", "calls/request", "self µs", "cumulative µs"), rows)
    if FINDINGS_PATH.exists():
        out += [FINDINGS_PATH.read_text().strip(), ""]
    return out


def render(results: dict[str, Any]) -> str:
    """The whole page."""
    other: dict[str, Any] = results.get("other_work") or {}
    busy = other.get("other_cores", 0.0) >= BUSY_CORES
    lines = [
        "# Performance",
        "",
        "<!-- generated by `python -m bench.report` from bench/results/full.json; edit bench/report.py -->",
        "",
        "fastapi_sentient side by side with bare FastAPI, prometheus-fastapi-instrumentator, "
        "starlette-exporter and OpenTelemetry's FastAPI instrumentation, on the same route "
        "(`GET /api/v1/items/{item_id}`, two levels of `include_router` prefixes), measured in one "
        "run on one machine. Ratios are taken within a round, so they hold better than the absolute "
        "figures, which depend on the machine.",
        "",
    ]
    if busy:
        lines += [
            "> **Preliminary:** other processes used "
            f"{other['other_cores']:g} cores on average during this run "
            f"({other['other_cpu_s']:g} CPU-s in {other['seconds']:g} s). Ratios within a "
            "round remain comparable; absolute figures are pessimistic.",
            "",
        ]
    for part in (
        _targets(results),
        _machine(results),
        _inprocess(results.get("inprocess")),
        _uvicorn(results.get("uvicorn")),
        _rss(results.get("rss")),
        _probes(results.get("probes")),
        _scale(results.get("metrics_scale")),
        _failover(results.get("failover")),
        _fleet(results.get("fleet")),
        _drain(results.get("drain")),
        _profile(results.get("profile")),
    ):
        lines += part
    if DESIGN_FIGURES_PATH.exists():
        lines += [DESIGN_FIGURES_PATH.read_text().strip(), ""]
    lines += ["## How the configurations are set up", ""]
    lines += [
        f"- **{row['label']}** (`{row['module']}`): {row.get('description', '')}"
        for row in results.get("configurations", [])
    ]
    lines += [
        "",
        "Every configuration is a small module in `bench/apps/`; read them to see exactly "
        "what was installed. Tracing configurations export OTLP/HTTP to a local sink that "
        "discards what it receives; in-process runs flush exporters after each timed batch "
        "(export cost shows up in the uvicorn figures, where it shares the process).",
        "",
    ]
    lines += ["## Reproduce", "", "```sh", *COMMANDS, "```", ""]
    return "\n".join(lines)


def write(results: dict[str, Any], path: Path = DOC) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=FULL)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args()
    print(write(json.loads(args.results.read_text()), args.out))


if __name__ == "__main__":
    main()
