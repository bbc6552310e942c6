"""Every metric a dashboard query or a rule reads is one the app really exports."""

from __future__ import annotations

import pytest

from tests.ops.dashboard import label_values_selector, queries, variable_queries
from tests.ops.exported import PROMETHEUS_SERIES, exported_names
from tests.ops.promql import metric_names
from tests.ops.rules import recorded_names, rules


def dashboard_names() -> set[str]:
    exprs = [expr for _, expr in queries()]
    exprs += [label_values_selector(query) for query in variable_queries()]
    return set().union(*(metric_names(expr) for expr in exprs))


def rule_names() -> set[str]:
    return set().union(*(metric_names(rule["expr"]) for rule in rules())) - recorded_names()


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Series names of a running app with a database, Redis and an LLM provider configured."""
    return exported_names()


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(dashboard_names() | rule_names()))
def test_metric_is_exported(name: str, exported: set[str]) -> None:
    """The metric named by a dashboard query or a rule exists in the app's registry."""
    assert name in exported | PROMETHEUS_SERIES


def test_helpers_find_metrics_in_both_sources() -> None:
    """The dashboard and rules name dozens of metrics, recording rules excluded."""
    assert len(dashboard_names()) > 25
    assert "job:http_requests:rate5m" not in rule_names()
    assert {"http_requests_total", "llm_cost_usd_total", "up"} <= rule_names()
