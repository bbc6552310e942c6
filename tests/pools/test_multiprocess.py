"""Pool gauges under prometheus_client's multiprocess mode: written by each worker, summed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest

from tests.support.procs import app_process, wait_until

pytestmark = pytest.mark.integration


def gauge(text: str, name: str) -> float | None:
    match = re.search(rf'^{name}\{{pool="db"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_pool_gauges_are_summed_across_workers(tmp_path: Path) -> None:
    """Two workers, each with a db pool of max 15: /metrics shows db_pool_max_size 30."""
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "SENTIENT_SYSTEM_CHECKS": "false",
        "SENTIENT_HEALTH_INTERVAL": "0.3",
    }
    with app_process("tests.pools.apps:app", env=env, args=["--workers", "2"]) as app:

        def scraped() -> str:
            return httpx2.get(app.url + "/metrics", timeout=5).text

        wait_until(lambda: gauge(scraped(), "db_pool_max_size") == 30, 20, what="both workers")
        text = scraped()
        assert gauge(text, "db_pool_size") == 2  # one warm connection per worker
        assert gauge(text, "db_pool_waiting") == 0
        assert "db_pool_acquire_seconds_bucket" in text
