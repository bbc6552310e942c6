"""Where the request path of the default install spends its time (cProfile).

The profile runs in fresh worker processes (bare and ours, same request count)
through the in-process driver.  cProfile inflates small functions, so absolute
numbers are larger than the benchmark's; the report uses it for *where*, and
the in-process figures for *how much*.  ``bench.isolated`` adds the middlewares'
own cost with FastAPI taken out of the picture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from bench.configs import BY_NAME
from bench.inprocess import Worker
from bench.procs import ROOT, bench_env
from bench.stats import rounded

Log = Callable[[str], None]

OUR_CODE = ("fastapi_sentient/", "prometheus_client/")


def _rows(
    rows: list[dict[str, Any]], key: str, limit: int, only: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    chosen = [row for row in rows if not only or row["function"].startswith(only)]
    chosen.sort(key=lambda row: row[key], reverse=True)
    return [
        {
            "function": row["function"],
            "calls_per_request": rounded(row["ncalls"] / row["count"], 2),
            "self_us": rounded(row["tottime_us_per_request"], 2),
            "cumulative_us": rounded(row["cumtime_us_per_request"], 2),
        }
        for row in chosen[:limit]
    ]


def _isolated() -> dict[str, Any]:
    """``bench.isolated`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.isolated"],
        cwd=str(ROOT),
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"bench.isolated failed: {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(requests: int, log: Log) -> dict[str, Any]:
    """The ``profile`` section of the results."""
    out: dict[str, Any] = {
        "method": f"cProfile of {requests} sequential in-process requests in a fresh worker, "
        "after warm-up; per-request microseconds under the profiler",
        "requests": requests,
    }
    for name in ("bare", "ours"):
        worker = Worker(BY_NAME[name], warmup=500, env={})
        try:
            ready = worker.reply(timeout=120)
            if not ready.get("available"):
                raise RuntimeError(f"{name} not available: {ready.get('reason')}")
            reply = worker.send({"cmd": "profile", "count": requests}, timeout=600)
        finally:
            worker.close()
        for row in reply["rows"]:
            row["count"] = requests
        out[name] = {"profiled_us_per_request": rounded(reply["seconds"] / requests * 1e6)}
        if name == "ours":
            out[name]["ours_by_self_time"] = _rows(
                reply["rows"], "tottime_us_per_request", 15, OUR_CODE
            )
            out[name]["ours_by_cumulative_time"] = _rows(
                reply["rows"], "cumtime_us_per_request", 10, ("fastapi_sentient/",)
            )
            out[name]["top_by_self_time"] = _rows(reply["rows"], "tottime_us_per_request", 12)
    out["isolated"] = _isolated()
    log(
        f"  isolated middleware: ours +{out['isolated']['added_us']['ours']} µs, minimal "
        f"+{out['isolated']['added_us']['minimal']} µs around a trivial app"
    )
    log(
        f"  profiled: bare {out['bare']['profiled_us_per_request']} µs, "
        f"ours {out['ours']['profiled_us_per_request']} µs per request"
    )
    return out
