"""The benchmark harness runs end to end and writes results of the documented shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_quick_inprocess_run_writes_per_round_figures_and_medians(tmp_path: Path) -> None:
    """A quick in-process run of bare and the default install records every round, medians and targets."""
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "bench", "--quick", "--only", "inprocess", "--configs", "ours"]
    cmd += ["--requests", "300", "--out", str(out)]
    done = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())

    assert results["schema"] == 1
    assert results["machine"]["nproc"] >= 1
    assert results["machine"]["packages"]["fastapi-sentient"]
    assert [c["name"] for c in results["configurations"]] == ["bare", "ours"]
    section = results["inprocess"]
    assert section["rounds"] == 3
    assert section["requests_per_round"] == 300
    for name in ("bare", "ours"):
        entry = section["configs"][name]
        assert entry["available"] is True
        assert entry["errors"] == 0
        assert len(entry["us_per_request"]) == 3
        assert len(entry["wall_us_per_request"]) == 3
        assert all(value > 0 for value in entry["us_per_request"])
        assert entry["median_us"] > 0
        assert isinstance(entry["added_us"], float)
    assert section["configs"]["bare"]["added_us"] == 0.0
    assert section["ours_added_over_pfi_added"] is None  # PFI was not part of this run
    targets = {row["target"]: row for row in results["targets"]}
    assert len(targets) == 12
    assert all(row["met"] is None for row in targets.values())  # nothing comparable was run
    assert "uvicorn" not in results
