"""The metrics registry and /metrics exposition."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx2
import pytest

from fastapi_sentient import ConfigurationError
from fastapi_sentient.metrics import Metrics, MetricSample
from tests.support.asgi import plugged_app, running, sample
from tests.support.procs import app_process, wait_until


def test_get_or_create_returns_the_same_instrument() -> None:
    """Asking twice for one name and shape returns one object (no duplicated timeseries)."""
    metrics = Metrics(process_collectors=False)
    first = metrics.counter("jobs_total", "Jobs.", ("kind",))
    assert metrics.counter("jobs_total", "Jobs.", ("kind",)) is first
    assert metrics.counter("jobs", "Jobs.", ("kind",)) is first


def test_conflicting_shape_is_a_clear_error() -> None:
    """The same name with other labels or another type is refused."""
    metrics = Metrics(process_collectors=False)
    metrics.gauge("queue_depth", "Depth.", ("queue",))
    with pytest.raises(ConfigurationError, match="queue_depth"):
        metrics.gauge("queue_depth", "Depth.", ("other",))
    with pytest.raises(ConfigurationError, match="counter"):
        metrics.counter("queue_depth", "Depth.", ("queue",))


def test_invalid_names_are_refused() -> None:
    """Metric and label names are validated."""
    metrics = Metrics(process_collectors=False)
    with pytest.raises(ConfigurationError):
        metrics.counter("bad-name", "x")
    with pytest.raises(ConfigurationError):
        metrics.counter("ok_total", "x", ("__reserved",))


def test_seed_recording_api_and_label_validation() -> None:
    """inc/set/observe check label sets; record_batch is all-or-nothing."""
    metrics = Metrics(process_collectors=False)
    metrics.counter("hits_total", "Hits.", ("page",))
    metrics.gauge("temperature", "Temp.")
    metrics.histogram("latency_seconds", "Latency.", ("op",), buckets=(0.1, 1.0))
    metrics.inc("hits_total", labels={"page": "home"})
    metrics.set("temperature", 21.5)
    metrics.observe("latency_seconds", 0.5, {"op": "read"})
    with pytest.raises(ConfigurationError, match="takes labels"):
        metrics.inc("hits_total", labels={"wrong": "x"})
    with pytest.raises(ConfigurationError, match="unknown metric"):
        metrics.record_batch(
            [
                MetricSample("counter", "hits_total", 1, {"page": "home"}),
                MetricSample("counter", "missing_total", 1),
            ]
        )
    metrics.record_batch(
        [
            MetricSample("counter", "hits_total", 2, {"page": "home"}),
            MetricSample("gauge", "temperature", 19.0),
            MetricSample("histogram", "latency_seconds", 0.05, {"op": "read"}),
        ]
    )
    exported = {f["name"]: f for f in metrics.export_json()["metrics"]}
    hits = [s for s in exported["hits"]["samples"] if s["name"] == "hits_total"]
    assert hits == [{"name": "hits_total", "labels": {"page": "home"}, "value": 3.0}]
    assert exported["temperature"]["samples"][0]["value"] == 19.0
    count = [
        s for s in exported["latency_seconds"]["samples"] if s["name"] == "latency_seconds_count"
    ]
    assert count[0]["value"] == 2


async def test_exposition_negotiates_openmetrics_and_gzip() -> None:
    """Text by default, OpenMetrics on request (ending with # EOF), gzip when accepted."""
    app, _ = plugged_app(process_metrics=True)
    async with running(app) as client:
        plain = await client.get("/metrics")
        om = await client.get(
            "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
        )
        zipped = await client.get("/metrics", headers={"accept-encoding": "gzip"})
    assert plain.headers["content-type"].startswith("text/plain")
    assert "process_resident_memory_bytes" in plain.text
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
    assert zipped.headers.get("content-encoding") == "gzip"
    # httpx2 decodes transparently; the body it saw was compressed
    assert "http_requests_in_flight" in zipped.text
    assert gzip.compress(b"x")  # gzip module available to the server


async def test_health_and_lifecycle_metrics_come_from_cached_results() -> None:
    """health_check_status reflects stored results; scraping runs no check."""
    app, sentient = plugged_app()
    runs = 0

    @sentient.health.check("counter_check", critical=False, interval=60)
    async def counter_check() -> None:
        nonlocal runs
        runs += 1

    @sentient.lifecycle.on_startup("prepare")
    async def prepare() -> None:
        return None

    async with running(app) as client:
        before = runs
        for _ in range(20):
            text = (await client.get("/metrics")).text
        assert runs == before == 1
    assert sample(text, "health_check_status", checker="counter_check", type="custom") == 1
    assert (
        sample(
            text,
            "lifecycle_task_duration_seconds_count",
            phase="startup",
            task="prepare",
            result="success",
        )
        == 1
    )


@pytest.mark.integration
def test_multiprocess_aggregates_workers(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR and two uvicorn workers, /metrics sums what both workers served."""
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "SENTIENT_SYSTEM_CHECKS": "false"}
    with app_process("example_app.main:app", env=env, args=["--workers", "2"]) as proc:
        served_by: dict[str, int] = {}
        sent = 0
        with httpx2.Client(base_url=proc.url) as client:
            # new connections until both workers have answered (the kernel picks the worker)
            while sent < 2000 and (len(served_by) < 2 or sent < 60):
                node = client.get("/", headers={"connection": "close"}).json()["node"]
                served_by[node] = served_by.get(node, 0) + 1
                sent += 1

        def counted() -> float | None:
            text = httpx2.get(proc.url + "/metrics", timeout=5).text
            return sample(text, "http_requests_total", route="/", status_code="200")

        assert len(served_by) == 2, served_by
        assert wait_until(lambda: counted() == sent, 10, what=f"{sent} requests across workers")


def test_fast_histogram_path_matches_prometheus_client() -> None:
    """The request histograms land every value in the same bucket as Histogram.observe, edges included."""
    from prometheus_client import CollectorRegistry, generate_latest

    from fastapi_sentient._inflight import InFlight
    from fastapi_sentient.metrics._http import HttpMetrics
    from fastapi_sentient.metrics._registry import DEFAULT_BUCKETS

    ours = Metrics(CollectorRegistry(), process_collectors=False)
    reference = Metrics(CollectorRegistry(), process_collectors=False)
    http = HttpMetrics(ours, InFlight())
    plain = reference.histogram(
        "http_request_duration_seconds",
        "Time from request start to the last response body chunk.",
        ("method", "route", "status_code"),
        buckets=DEFAULT_BUCKETS,
    )
    values = [*DEFAULT_BUCKETS, 0.0, 1e-9, 0.0049999, 0.0050001, 299.99, 300.0, 300.01, 1e6]
    values += [b * 1.000001 for b in DEFAULT_BUCKETS] + [b * 0.999999 for b in DEFAULT_BUCKETS]
    for value in values:
        http.record("GET", "/x", 200, value, None)
        plain.labels("GET", "/x", "200").observe(value)

    def buckets(registry: CollectorRegistry) -> list[str]:
        text = generate_latest(registry).decode()
        prefix = "http_request_duration_seconds_"
        return [
            line for line in text.splitlines() if line.startswith(prefix) and "_created" not in line
        ]

    assert buckets(ours.registry) == buckets(reference.registry)


def test_text_encoder_is_byte_identical_to_prometheus_client() -> None:
    """Our cached text renderer produces exactly generate_latest's bytes, escaping included."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, StateSetMetricFamily

    from fastapi_sentient.metrics._text_format import TextEncoder

    metrics = Metrics(CollectorRegistry(), process_collectors=False)
    counter = metrics.counter(
        "jobs_total", 'Jobs with "quotes", a \\ and a\nnewline.', ("queue", "kind")
    )
    counter.labels('we"ird\\va\nlue', "é").inc(3)
    counter.labels("plain", "x").inc()
    metrics.gauge("temperature", "Temp.").set(float("inf"))
    metrics.histogram("latency_seconds", "Latency.", ("op",), buckets=(0.1, 1.0, 1e7)).labels(
        "r"
    ).observe(0.5)
    metrics.summary("payload_bytes", "Sizes.").observe(1234567890.0)

    class Custom:
        def collect(self) -> list[object]:
            gauge = GaugeMetricFamily("custom_with_ts", "Timestamped.", labels=["a"])
            gauge.add_metric(["1"], 2.5, timestamp=1700000000.123)
            info = InfoMetricFamily("build", "Build info.", value={"version": "1.2"})
            states = StateSetMetricFamily("mode", "Mode.", value={"on": True, "off": False})
            return [gauge, info, states]

    metrics.registry.register(Custom())  # type: ignore[arg-type]
    encoder = TextEncoder()
    expected = generate_latest(metrics.registry)
    assert encoder.render(metrics.registry) == expected
    counter.labels("late", "y").inc()
    assert encoder.render(metrics.registry) == generate_latest(metrics.registry)


def test_fast_exemplar_path_matches_prometheus_client() -> None:
    """Observations with exemplars land like Histogram.observe(value, exemplar) lands them."""
    import re

    from prometheus_client import CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest

    from fastapi_sentient._inflight import InFlight
    from fastapi_sentient.metrics._http import HttpMetrics
    from fastapi_sentient.metrics._registry import DEFAULT_BUCKETS

    ours = Metrics(CollectorRegistry(), process_collectors=False)
    reference = Metrics(CollectorRegistry(), process_collectors=False)
    http = HttpMetrics(ours, InFlight())
    plain = reference.histogram(
        "http_request_duration_seconds",
        "Time from request start to the last response body chunk.",
        ("method", "route", "status_code"),
        buckets=DEFAULT_BUCKETS,
    )
    for index, value in enumerate((0.001, 0.005, 0.2, 0.2, 42.0, 1e6)):
        exemplar = {"trace_id": f"{index:032x}", "span_id": f"{index:016x}"}
        http.record("GET", "/x", 200, value, None, exemplar)
        plain.labels("GET", "/x", "200").observe(value, exemplar)

    def buckets(registry: CollectorRegistry) -> list[str]:
        text = generate_latest(registry).decode()
        return [
            re.sub(r" \d+\.\d+$", " <ts>", line)  # the exemplar's own timestamp
            for line in text.splitlines()
            if line.startswith("http_request_duration_seconds_") and "_created" not in line
        ]

    ours_lines = buckets(ours.registry)
    assert ours_lines == buckets(reference.registry)
    assert sum(" # {" in line for line in ours_lines) == 4  # one per bucket hit
