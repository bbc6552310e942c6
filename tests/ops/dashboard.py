"""The Grafana dashboard of ``deploy/grafana/`` as data: panels, queries, template variables."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.procs import ROOT

GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD_FILE = GRAFANA_DIR / "fastapi-sentient.json"

# What Grafana substitutes before a query reaches Prometheus, for evaluating the
# queries ourselves: the job of the kit, every instance, and plausible intervals.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$job": "fastapi-sentient",
    "$instance": ".*",
}


def dashboard() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return result


def panels() -> list[dict[str, Any]]:
    """Every panel that is not a row."""
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def queries() -> list[tuple[str, str]]:
    """``(panel title / refId, expr)`` of every panel query."""
    return [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in panels()
        for target in panel["targets"]
    ]


def variable_queries() -> list[str]:
    """The ``label_values(...)`` queries of the template variables."""
    return [
        variable["definition"]
        for variable in dashboard()["templating"]["list"]
        if variable["type"] == "query"
    ]


def label_values_selector(query: str) -> str:
    """The series selector inside ``label_values(selector, label)``."""
    match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
    assert match, f"not a label_values query: {query}"
    return match.group(1)


def substitute(expr: str) -> str:
    """``expr`` as Grafana would send it, with the kit's variable values."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    assert "$" not in expr, f"unknown Grafana variable left in {expr}"
    return expr
