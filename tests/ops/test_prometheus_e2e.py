"""A real Prometheus scrapes real uvicorn processes; every dashboard query and rule evaluates.

Two targets share the job ``fastapi-sentient`` and one redis-server: the example
app started the way ``deploy/kubernetes/deployment.yaml`` starts it (its uvicorn
options and ``SENTIENT_*`` values; a SQLite file and local Redis in place of the
secrets), and the ops test app with a fake OpenAI-compatible provider, so the
LLM, pool and cluster series exist too.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.ops.dashboard import GRAFANA_VARIABLES, label_values_selector, queries, substitute
from tests.ops.dashboard import variable_queries as dashboard_variables
from tests.ops.fake_llm import fake_openai, providers_env
from tests.ops.kube import app_container
from tests.ops.kube import objects as kube_objects
from tests.ops.prometheus import PrometheusServer
from tests.ops.rules import RULES_FILE, rules
from tests.support.procs import AppProcess, free_port, wait_until
from tests.support.redis_server import RedisServer, require_binary

pytestmark = pytest.mark.integration

JOB = GRAFANA_VARIABLES["$job"]
TEMPLATED_ROUTE = "/api/agents/{agent_id}/runs/{run_id}"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
HEALTH_TOKEN = "ops-e2e-health-token"
# A short lease: a fresh Redis holds elections off for one lease, and the test waits for a leader.
FAST_LEASE = {
    "SENTIENT_LEASE_TTL": "4",
    "SENTIENT_RENEW_DEADLINE": "3",
    "SENTIENT_RETRY_PERIOD": "1",
    "SENTIENT_CLUSTER_CALL_TIMEOUT": "0.5",
}


@dataclass
class Stack:
    example: AppProcess
    full: AppProcess
    prometheus: PrometheusServer
    example_scrape: str  # the example app's management address, where Prometheus scrapes it

    @property
    def metrics_urls(self) -> tuple[str, str]:
        """Where each app serves ``/metrics``: the example app only on its management port."""
        return f"http://{self.example_scrape}/metrics", self.full.url + "/metrics"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Both apps serving and scraped, with some traffic recorded."""
    require_binary("prometheus", "prometheus")
    tmp = tmp_path_factory.mktemp("ops-e2e")
    redis = RedisServer().start()
    started: list[AppProcess] = []
    prometheus: PrometheusServer | None = None
    try:
        with fake_openai() as llm_url:
            container = app_container(kube_objects()["Deployment"])
            manifest_env = container.literal_env()
            manifest_env.pop("SENTIENT_PORT")  # the test's free port instead of 8000
            # Scraped where the manifests scrape it: the management port, a free one here.
            management_port = free_port()
            manifest_env["SENTIENT_MANAGEMENT_PORT"] = str(management_port)
            example = AppProcess(
                container.target,
                env={
                    **manifest_env,
                    "SENTIENT_VERSION": "0.1.0",
                    "SENTIENT_ADVERTISE_HOST": "127.0.0.1",
                    "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'example.db'}",
                    "SENTIENT_REDIS_URL": redis.url,
                    "SENTIENT_HEALTH_TOKEN": HEALTH_TOKEN,
                    **FAST_LEASE,
                },
                args=container.uvicorn_options(),
            )
            full = AppProcess(
                "tests.ops.apps:create_app",
                env={
                    "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'full.db'}",
                    "SENTIENT_REDIS_URL": redis.url,
                    "SENTIENT_LLM_PROVIDERS": providers_env(llm_url),
                    **FAST_LEASE,
                },
                args=["--factory", "--timeout-graceful-shutdown", "5"],
            )
            # Prometheus first: it applies new targets only after a few seconds, which
            # then overlap the apps' startup.
            prometheus = PrometheusServer(
                JOB,
                [example_scrape := f"127.0.0.1:{management_port}", f"127.0.0.1:{full.port}"],
                rule_files=[RULES_FILE],
            ).start()
            for app in (example, full):
                started.append(app)
                app.start(wait_ready=False, log_dir=tmp)
            for app in started:
                app.wait_ready(30)
            drive_traffic(example, full)
            yield Stack(example, full, prometheus, example_scrape)
    finally:
        if prometheus is not None:
            prometheus.stop()
        for app in started:
            stop(app)
        redis.close()


def stop(app: AppProcess) -> None:
    """Stop an app without waiting out its shutdown delay: a second signal skips it.

    The second signal is sent only once the first was handled (``/ready`` turned
    503): two signals sent back to back can reach Python as one.
    """

    def draining() -> bool:
        try:
            return httpx2.get(app.url + "/ready", timeout=1).status_code == 503
        except httpx2.HTTPError:
            return True  # already stopped listening

    if app.proc is not None and app.proc.poll() is None:
        app.signal(signal.SIGTERM)
        wait_until(draining, 10, 0.05, "the first SIGTERM handled")
        if app.proc.poll() is None:
            app.signal(signal.SIGTERM)
    app.stop()


def drive_traffic(example: AppProcess, full: AppProcess) -> None:
    with httpx2.Client(timeout=10) as client:
        for run in range(3):
            assert client.get(f"{example.url}/api/agents/a{run}/runs/{run}").status_code == 200
        assert client.get(f"{example.url}/no/such/page").status_code == 404
        for path in ("/api/agents/a1/ask", "/api/agents/a1/stream", "/api/store"):
            response = client.get(full.url + path)
            assert response.status_code == 200, f"{path}: {response.text}"


def test_prometheus_sees_the_templated_route(stack: Stack) -> None:
    """Prometheus stores http_requests_total under the full route template, prefixes included."""
    expr = f'http_requests_total{{job="{JOB}", route="{TEMPLATED_ROUTE}"}}'

    def all_three() -> list[dict[str, Any]] | None:
        series = stack.prometheus.query(expr)
        return series if sum(float(s["value"][1]) for s in series) == 3 else None

    series = wait_until(all_three, 20, 0.2, f"{expr} counting 3 requests")
    assert {s["metric"]["method"] for s in series} == {"GET"}
    assert {s["metric"]["status_code"] for s in series} == {"200"}
    unmatched_expr = f'http_requests_total{{route="__unmatched__", job="{JOB}"}}'
    unmatched = wait_until(lambda: stack.prometheus.query(unmatched_expr), 20, 0.2, unmatched_expr)
    assert [s["metric"]["status_code"] for s in unmatched] == ["404"]


def test_both_targets_are_up_and_scraped_as_openmetrics(stack: Stack) -> None:
    """Both apps are up; their OpenMetrics exposition ends with # EOF."""
    wait_until(
        lambda: len(stack.prometheus.query(f'up{{job="{JOB}"}} == 1')) == 2, 20, 0.2, "both up"
    )
    for url in stack.metrics_urls:
        response = httpx2.get(url, headers={"accept": "application/openmetrics-text"}, timeout=5)
        assert response.headers["content-type"] == OPENMETRICS
        assert response.text.endswith("# EOF\n")


def test_promtool_check_metrics_reports_nothing(stack: Stack) -> None:
    """promtool check metrics finds no problem in either app's text exposition."""
    promtool = require_binary("promtool", "prometheus")
    for url in stack.metrics_urls:
        text = httpx2.get(url, timeout=5).text
        assert text.startswith("# HELP")
        result = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize(("panel", "expr"), queries(), ids=[title for title, _ in queries()])
def test_dashboard_query_evaluates(stack: Stack, panel: str, expr: str) -> None:
    """The panel's query, with Grafana's variables filled in, runs as a range and instant query."""
    promql = substitute(expr)
    stack.prometheus.query_range(promql)
    stack.prometheus.query(promql)


@pytest.mark.parametrize("query", dashboard_variables())
def test_dashboard_variable_lists_the_job(stack: Stack, query: str) -> None:
    """The template variable's label_values query finds the job and its instances."""
    selector = substitute(label_values_selector(query))
    label = query.rsplit(",", 1)[1].strip(" )")
    values = wait_until(
        lambda: stack.prometheus.api(f"label/{label}/values", **{"match[]": selector}),
        20,
        0.2,
        query,
    )
    expected = JOB if label == "job" else stack.example_scrape
    assert expected in values


def test_every_rule_evaluates_healthy(stack: Stack) -> None:
    """Prometheus loads the rule file and every rule evaluates without error."""

    def evaluated() -> list[dict[str, object]] | None:
        groups = stack.prometheus.api("rules")["groups"]
        loaded = [rule for group in groups for rule in group["rules"]]
        if len(loaded) == len(rules()) and all(rule["health"] != "unknown" for rule in loaded):
            return loaded
        return None

    loaded = wait_until(evaluated, 20, 0.2, "every rule evaluated once")
    broken = {rule["name"]: rule.get("lastError") for rule in loaded if rule["health"] != "ok"}
    assert broken == {}


@pytest.mark.parametrize(
    "rule", rules(), ids=[str(rule.get("alert") or rule.get("record")) for rule in rules()]
)
def test_rule_expression_evaluates(stack: Stack, rule: dict[str, str]) -> None:
    """The rule's expression runs as an instant query against the live data."""
    stack.prometheus.query(rule["expr"])


def test_live_data_reaches_every_area(stack: Stack) -> None:
    """LLM, pool, health, cluster and lifecycle series of the running apps are in Prometheus."""
    for expr in (
        f'llm_requests_total{{job="{JOB}", provider="fake", status="success"}}',
        f'llm_tokens_consumed_total{{job="{JOB}", type="output"}}',
        f'llm_cost_usd_total{{job="{JOB}"}} > 0',
        f'db_pool_size{{job="{JOB}"}}',
        f'redis_pool_max_size{{job="{JOB}"}}',
        f'health_check_status{{job="{JOB}", checker="model_cache"}} == 1',
        f'cluster_is_leader{{job="{JOB}"}} == 1',
        f'lifecycle_task_duration_seconds_count{{job="{JOB}", task="warm-cache"}}',
    ):
        wait_until(lambda e=expr: stack.prometheus.query(e), 20, 0.2, expr)


def test_recording_rules_produce_series(stack: Stack) -> None:
    """The traffic and health recording rules yield series from the live scrape."""
    for record in ("job:http_requests:rate5m", "job_instance_checker:health_check_critical:status"):
        wait_until(lambda r=record: stack.prometheus.query(r), 20, 0.2, record)


def test_the_manifest_configured_app_serves_its_probes(stack: Stack) -> None:
    """Started as the Deployment starts it, the app answers the probe paths and sees no budget problem."""
    spec = app_container(kube_objects()["Deployment"]).spec
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        path = spec[probe]["httpGet"]["path"]
        assert httpx2.get(stack.example.url + path, timeout=5).status_code == 200, probe
    health = httpx2.get(
        stack.example.url + "/health",
        headers={"authorization": f"Bearer {HEALTH_TOKEN}"},
        timeout=5,
    ).json()
    assert {"db", "redis", "cluster", "model_cache"} <= set(health["details"])
    assert "exceeds SENTIENT_TERMINATION_GRACE_PERIOD" not in stack.example.output()


def test_the_two_apps_elect_one_leader(stack: Stack) -> None:
    """Sharing one Redis, the two processes report exactly one leader to Prometheus."""
    expr = f'sum(cluster_is_leader{{job="{JOB}"}}) == 1 and count(cluster_is_leader{{job="{JOB}"}}) == 2'
    wait_until(lambda: stack.prometheus.query(expr), 20, 0.2, expr)
