"""Writes ``fastapi-sentient.json``, the Grafana dashboard of the kit.

The dashboard is generated so that its 40-odd queries stay readable and consistent
(one selector, one rate window, one legend style); edit this file, then run
``python deploy/grafana/build_dashboard.py``. A test fails when the JSON is stale,
and another evaluates every query against a Prometheus scraping the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("fastapi-sentient.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", instance=~"$instance"'
RATE = "$__rate_interval"
POOL_KINDS = ("db", "redis", "http")


@dataclass
class Panel:
    """One panel: its title, queries (expr, legend) and how to show them."""

    title: str
    description: str
    queries: list[tuple[str, str]]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    mappings: list[dict[str, Any]] = field(default_factory=list)
    extra_defaults: dict[str, Any] = field(default_factory=dict)


def quantile(q: float, metric: str, by: str, where: str = SEL) -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{where}}}[{RATE}])))"


def per_pool_kind(template: str) -> list[tuple[str, str]]:
    """One query per pool kind; ``template`` has ``{kind}`` placeholders."""
    return [
        (template.format(kind=kind, sel=SEL, rate=RATE), f"{kind} {{{{pool}}}}")
        for kind in POOL_KINDS
    ]


def states(*pairs: tuple[float, str, str]) -> list[dict[str, Any]]:
    """Value mappings (value → text, colour) for state-timeline panels."""
    options = {
        str(value): {"text": text, "color": color, "index": index}
        for index, (value, text, color) in enumerate(pairs)
    }
    return [{"type": "value", "options": options}]


ROWS: list[tuple[str, list[Panel]]] = [
    (
        "HTTP",
        [
            Panel(
                "Request rate by route",
                "Requests per second by route template (probes and /metrics excluded).",
                [(f"sum by (route) (rate(http_requests_total{{{SEL}}}[{RATE}]))", "{{route}}")],
                unit="reqps",
            ),
            Panel(
                "Error ratio by route (5xx)",
                "Share of requests answered with a 5xx status, by route.",
                [
                    (
                        f'sum by (route) (rate(http_requests_total{{{SEL}, status_code=~"5.."}}[{RATE}]))'
                        f" / sum by (route) (rate(http_requests_total{{{SEL}}}[{RATE}]))",
                        "{{route}}",
                    )
                ],
                unit="percentunit",
            ),
            Panel(
                "Responses by status code",
                "Responses per second by status code, all routes.",
                [
                    (
                        f"sum by (status_code) (rate(http_requests_total{{{SEL}}}[{RATE}]))",
                        "{{status_code}}",
                    )
                ],
                unit="reqps",
                width=8,
            ),
            Panel(
                "Latency p95 / p99 by route",
                "Time to the last body chunk; long streams land in the top buckets.",
                [
                    (quantile(0.95, "http_request_duration_seconds", "route"), "p95 {{route}}"),
                    (quantile(0.99, "http_request_duration_seconds", "route"), "p99 {{route}}"),
                ],
                unit="s",
                width=8,
            ),
            Panel(
                "Time to first byte p95 by route",
                "Time until the status line and headers were sent: what a streaming client waits for.",
                [(quantile(0.95, "http_time_to_first_byte_seconds", "route"), "{{route}}")],
                unit="s",
                width=8,
            ),
            Panel(
                "Requests in flight",
                "HTTP requests and WebSocket connections being served, by instance.",
                [(f"sum by (instance) (http_requests_in_flight{{{SEL}}})", "{{instance}}")],
                width=24,
                height=6,
            ),
        ],
    ),
    (
        "LLM providers",
        [
            Panel(
                "LLM requests by provider, model and outcome",
                "Attempts per second (a retried call counts each attempt).",
                [
                    (
                        f"sum by (provider, model, status) (rate(llm_requests_total{{{SEL}}}[{RATE}]))",
                        "{{provider}} {{model}} {{status}}",
                    )
                ],
                unit="reqps",
            ),
            Panel(
                "Tokens per second",
                "Input and output tokens consumed, by provider and model.",
                [
                    (
                        f"sum by (provider, model, type) (rate(llm_tokens_consumed_total{{{SEL}}}[{RATE}]))",
                        "{{provider}} {{model}} {{type}}",
                    )
                ],
            ),
            Panel(
                "Spend rate (USD per hour)",
                "Cost from the configured price table, extrapolated to an hour.",
                [
                    (
                        f"sum by (provider, model) (rate(llm_cost_usd_total{{{SEL}}}[{RATE}])) * 3600",
                        "{{provider}} {{model}}",
                    )
                ],
                unit="currencyUSD",
                width=8,
            ),
            Panel(
                "Spend in the last 24 hours",
                "USD spent on LLM calls over the last day, all providers.",
                [(f"sum(increase(llm_cost_usd_total{{{SEL}}}[1d]))", "USD")],
                unit="currencyUSD",
                kind="stat",
                width=4,
            ),
            Panel(
                "LLM latency p95",
                "Duration of provider attempts, by provider and model.",
                [
                    (
                        quantile(0.95, "llm_request_duration_seconds", "provider, model"),
                        "{{provider}} {{model}}",
                    )
                ],
                unit="s",
                width=6,
            ),
            Panel(
                "Time to first token p95",
                "Streamed calls: time from sending the request to the first text chunk.",
                [
                    (
                        quantile(0.95, "llm_time_to_first_token_seconds", "provider, model"),
                        "{{provider}} {{model}}",
                    )
                ],
                unit="s",
                width=6,
            ),
            Panel(
                "GenAI operation duration p95 (OpenTelemetry conventions)",
                "gen_ai.client.operation.duration by provider and requested model.",
                [
                    (
                        quantile(
                            0.95,
                            "gen_ai_client_operation_duration_seconds",
                            "gen_ai_provider_name, gen_ai_request_model",
                        ),
                        "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                    )
                ],
                unit="s",
                width=8,
            ),
            Panel(
                "Retries and fallbacks",
                "Retries by cause, and fallback targets skipped or failed.",
                [
                    (
                        f"sum by (provider, reason) (rate(llm_retries_total{{{SEL}}}[{RATE}]))",
                        "retry {{provider}} {{reason}}",
                    ),
                    (
                        f"sum by (provider, reason) (rate(llm_fallbacks_total{{{SEL}}}[{RATE}]))",
                        "fallback {{provider}} {{reason}}",
                    ),
                ],
                unit="ops",
                width=8,
            ),
            Panel(
                "Circuit breakers",
                "Worst state across instances: closed, open (calls rejected) or half-open (probing).",
                [(f"max by (name) (circuit_breaker_state{{{SEL}}})", "{{name}}")],
                kind="state-timeline",
                width=8,
                mappings=states(
                    (0, "closed", "green"), (1, "open", "red"), (2, "half-open", "orange")
                ),
            ),
        ],
    ),
    (
        "Health and pools",
        [
            Panel(
                "Health check status",
                "Worst reported status of each check across instances (cached results, never run on scrape).",
                [(f"min by (checker) (health_check_status{{{SEL}}})", "{{checker}}")],
                kind="state-timeline",
                width=24,
                mappings=states(
                    (1, "healthy", "green"), (0.5, "degraded", "orange"), (0, "unhealthy", "red")
                ),
            ),
            Panel(
                "Pool usage",
                "Connections in use as a share of the most each pool may open.",
                per_pool_kind(
                    "sum by (pool) ({kind}_pool_in_use{{{sel}}}) / sum by (pool) ({kind}_pool_max_size{{{sel}}})"
                ),
                unit="percentunit",
                width=6,
            ),
            Panel(
                "Callers waiting for a connection",
                "A pool with waiters is exhausted; see the SentientPoolExhausted runbook.",
                per_pool_kind("sum by (pool) ({kind}_pool_waiting{{{sel}}})"),
                width=6,
            ),
            Panel(
                "Connection acquire time p95",
                "How long callers waited for a connection.",
                per_pool_kind(
                    "histogram_quantile(0.95, sum by (pool, le) (rate({kind}_pool_acquire_seconds_bucket{{{sel}}}[{rate}])))"
                ),
                unit="s",
                width=6,
            ),
            Panel(
                "Acquire timeouts",
                "Acquires that gave up after the pool timeout, per second.",
                per_pool_kind(
                    "sum by (pool) (rate({kind}_pool_acquire_timeouts_total{{{sel}}}[{rate}]))"
                ),
                unit="ops",
                width=6,
            ),
        ],
    ),
    (
        "Cluster and lifecycle",
        [
            Panel(
                "Leader",
                "Which instance holds the leader lease (exactly one row should be green).",
                [(f"max by (instance) (cluster_is_leader{{{SEL}}})", "{{instance}}")],
                kind="state-timeline",
                width=8,
                mappings=states((1, "leader", "green"), (0, "follower", "transparent")),
            ),
            Panel(
                "Leader changes",
                "Leadership changes seen per instance over the dashboard's range.",
                [(f"max(increase(cluster_leader_changes_total{{{SEL}}}[$__range]))", "changes")],
                kind="stat",
                width=4,
            ),
            Panel(
                "Cluster nodes by status",
                "Members of the cluster as seen by each instance (worst view shown).",
                [(f"max by (status) (cluster_nodes{{{SEL}}})", "{{status}}")],
                width=12,
            ),
            Panel(
                "Startup and shutdown task durations",
                "Average duration of each lifecycle task by phase and result.",
                [
                    (
                        f"sum by (phase, task, result) (lifecycle_task_duration_seconds_sum{{{SEL}}})"
                        f" / sum by (phase, task, result) (lifecycle_task_duration_seconds_count{{{SEL}}})",
                        "{{phase}} {{task}} {{result}}",
                    )
                ],
                unit="s",
                kind="bargauge",
                width=24,
            ),
        ],
    ),
]


def variable(name: str, label: str, query: str, *, all_value: bool) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "includeAll": all_value,
        "multi": all_value,
        "allValue": ".*" if all_value else None,
        "current": {"text": "All", "value": "$__all"} if all_value else {},
        "sort": 1,
    }


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, **panel.extra_defaults}
    if panel.mappings:
        defaults["mappings"] = panel.mappings
        defaults["color"] = {"mode": "thresholds"}
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [
            {
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                "range": panel.kind != "stat",
                "instant": panel.kind == "stat",
                "refId": chr(ord("A") + index),
            }
            for index, (expr, legend) in enumerate(panel.queries)
        ],
    }


def build() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    panels: list[dict[str, Any]] = []
    panel_id = 1
    y = 0
    for title, row in ROWS:
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in row:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            panels.append(panel_json(panel, panel_id, x, y))
            panel_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "title": "fastapi_sentient",
        "uid": "fastapi-sentient",
        "description": "HTTP, LLM, health, pools, cluster and lifecycle of services running fastapi_sentient.",
        "tags": ["fastapi", "fastapi-sentient", "llm"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "refresh": 1,
                },
                variable("job", "Job", "label_values(http_requests_total, job)", all_value=False),
                variable(
                    "instance",
                    "Instance",
                    'label_values(http_requests_total{job=~"$job"}, instance)',
                    all_value=True,
                ),
            ]
        },
        "panels": panels,
    }


def render() -> str:
    """The JSON text as committed."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
