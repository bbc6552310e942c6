"""The Grafana dashboard is generated, well laid out and covers every area of the plugin."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.ops.dashboard import DASHBOARD_FILE, GRAFANA_DIR, dashboard, panels, queries
from tests.ops.promql import metric_names


def test_dashboard_json_is_up_to_date_with_its_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """fastapi-sentient.json is exactly what build_dashboard.py writes."""
    spec = importlib.util.spec_from_file_location(
        "build_dashboard", GRAFANA_DIR / "build_dashboard.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    assert module.render() == DASHBOARD_FILE.read_text(), (
        "run: .venv/bin/python deploy/grafana/build_dashboard.py"
    )


def test_panels_tile_the_grid_without_overlap() -> None:
    """Panel ids are unique and no two panels share a grid cell of Grafana's 24 columns."""
    all_panels = dashboard()["panels"]
    ids = [panel["id"] for panel in all_panels]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in all_panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_query_uses_the_selected_datasource_job_and_instance() -> None:
    """Queries follow the dashboard's data source, $job and $instance variables."""
    for panel in panels():
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert 'job=~"$job", instance=~"$instance"' in target["expr"], panel["title"]


def test_dashboard_covers_every_area() -> None:
    """HTTP, TTFB, in-flight, LLM, breakers, health, pools, cluster and lifecycle all have queries."""
    names = set().union(*(metric_names(expr) for _, expr in queries()))
    for required in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_time_to_first_byte_seconds_bucket",
        "http_requests_in_flight",
        "llm_requests_total",
        "llm_tokens_consumed_total",
        "llm_cost_usd_total",
        "llm_request_duration_seconds_bucket",
        "gen_ai_client_operation_duration_seconds_bucket",
        "circuit_breaker_state",
        "health_check_status",
        "db_pool_in_use",
        "redis_pool_waiting",
        "http_pool_acquire_seconds_bucket",
        "db_pool_acquire_timeouts_total",
        "cluster_is_leader",
        "cluster_leader_changes_total",
        "cluster_nodes",
        "lifecycle_task_duration_seconds_sum",
    ):
        assert required in names, f"no dashboard query reads {required}"
