"""The OpenMetrics encoder renders exactly what prometheus_client's own encoder renders."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    multiprocess,
    values,
)
from prometheus_client import metrics as client_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.openmetrics import exposition as om
from prometheus_client.samples import Exemplar, Sample

from fastapi_sentient.metrics._exposition import render
from fastapi_sentient.metrics._openmetrics_format import Fallback, OpenMetricsEncoder
from fastapi_sentient.metrics._registry import Metrics

PROMETHEUS_3_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
PROMETHEUS_2_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def _library(registry: CollectorRegistry, escaping: str = om.UNDERSCORES) -> bytes:
    return bytes(om.generate_latest(registry, escaping=escaping, version="1.0.0"))


class _Custom:
    """Families only a custom collector makes: gauge histograms, timestamps, units, statesets."""

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("queue_items", 'Items "queued".', labels=["q"], unit="items")
        gauge.add_metric(["a"], 3.0, timestamp=1700000000.125)
        gauge.add_metric(["b\\n"], float("nan"))
        yield gauge
        gh = GaugeHistogramMetricFamily("batch_size", "Batch sizes.", labels=["kind"])
        gh.add_metric(["x"], [("1.0", 4.0), ("+Inf", 9.0)], gsum_value=21.5)
        yield gh
        hist = HistogramMetricFamily("custom_latency_seconds", "Custom.", labels=["op"])
        hist.add_metric(
            ["read"],
            [("0.1", 1.0), ("+Inf", 2.0)],
            sum_value=0.7,
            timestamp=1700000001.5,
        )
        yield hist
        summary = SummaryMetricFamily("custom_sizes", "Sizes.", labels=["op"])
        summary.add_metric(["w"], count_value=3, sum_value=float("inf"))
        yield summary
        counter = CounterMetricFamily("custom_events", "Events.", labels=["e"], created=12.5)
        counter.add_metric(["start"], 7.0, created=1700000000.0)
        yield counter
        states = StateSetMetricFamily("mode", "Mode.", value={"on": True, "off": False})
        yield states


def _populated(registry: CollectorRegistry) -> None:
    jobs = Counter("jobs", 'Jobs with "quotes", a \\ and a\nnewline.', ["queue"], registry=registry)
    jobs.labels('we"ird\\va\nlue').inc(3)
    jobs.labels("plain").inc(2, exemplar={"trace_id": "abc", "span_id": "def"})
    Counter("bare_events", "Unlabelled.", registry=registry).inc()
    gauge = Gauge("temperature", "Temp.", ["room"], registry=registry)
    gauge.labels("hot").set(float("inf"))
    gauge.labels("cold").set(float("-inf"))
    gauge.labels("odd").set(float("nan"))
    gauge.labels("big").set(123456789.0)
    Gauge("in_flight", "Live.", registry=registry).set_function(lambda: 4)
    hist = Histogram(
        "latency_seconds", "Latency.", ["op"], buckets=(0.1, 1.0, 1e7), registry=registry
    )
    hist.labels("r").observe(0.5)
    hist.labels("w").observe(0.05, exemplar={"trace_id": "0af7651916cd43dd8448eb211c80319c"})
    hist.labels("w").observe(2e7)
    Histogram("negative", "Negative buckets.", buckets=(-1.0, 0.0), registry=registry).observe(-3)
    Summary("payload_bytes", "Sizes.", registry=registry).observe(1234567890.0)
    Info("build", "Build info.", registry=registry).info({"version": "1.2", "commit": 'a"b'})
    Enum("state", "State.", states=["idle", "busy"], registry=registry).state("busy")
    registry.register(_Custom())  # type: ignore[arg-type]


@pytest.mark.parametrize("escaping", [om.UNDERSCORES, om.ALLOWUTF8])
def test_every_metric_type_renders_byte_identical(escaping: str) -> None:
    """Counters (exemplars, _created), gauges (NaN, ±Inf, set_function), histograms, summaries,
    info, enum, gauge histograms, statesets, units and timestamps: the library's exact bytes."""
    registry = CollectorRegistry()
    _populated(registry)
    encoder = OpenMetricsEncoder()
    expected = _library(registry, escaping)
    assert b" # {" in expected  # the exemplars are really there
    assert encoder.render(registry) == expected
    # the second scrape comes from the caches, and a new series shows up in it
    Counter("late", "Added later.", ["k"], registry=registry).labels("v").inc()
    registry.get_sample_value("late_total", {"k": "v"})
    assert encoder.render(registry) == _library(registry, escaping)


def test_without_created_series(monkeypatch: pytest.MonkeyPatch) -> None:
    """``disable_created_metrics()`` drops the _created lines from both encoders alike."""
    registry = CollectorRegistry()
    _populated(registry)
    encoder = OpenMetricsEncoder()
    encoder.render(registry)
    monkeypatch.setattr(client_metrics, "_use_created", False)
    assert encoder.render(registry) == _library(registry)


def test_the_plugin_registry_under_prometheus_accept_headers() -> None:
    """What Prometheus 2 and 3 ask for gets OpenMetrics with the library's bytes."""
    metrics = Metrics(CollectorRegistry())  # with the process, platform and GC collectors
    metrics.counter("requests_total", "Requests.", ("route",)).labels("/a").inc()
    for accept, escaping in (
        (PROMETHEUS_3_ACCEPT, om.ALLOWUTF8),
        (PROMETHEUS_2_ACCEPT, om.UNDERSCORES),
    ):
        body, headers = render(metrics, accept, "")
        content_type = dict(headers)[b"content-type"].decode()
        assert content_type.startswith("application/openmetrics-text; version=1.0.0")
        # process collectors read the clock: compare everything but their values
        expected = _library(metrics.registry, escaping)

        def stable(text: bytes) -> list[bytes]:
            return [line for line in text.splitlines() if not line.startswith(b"process_")]

        assert stable(body) == stable(expected)
        assert body.endswith(b"# EOF\n")


def test_multiprocess_registry_renders_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MultiProcessCollector's merged families render like the library renders them."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for pid in (11, 12):
        monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda pid=pid: pid))
        source = CollectorRegistry()
        Counter("mp_jobs", "Jobs.", ["q"], registry=source).labels("a").inc(pid)
        Histogram("mp_seconds", "Secs.", buckets=(1.0,), registry=source).observe(0.5)
        Gauge("mp_live", "Live.", multiprocess_mode="livesum", registry=source).set(1)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
    expected = _library(registry)
    assert b'mp_jobs_total{q="a"} 23.0' in expected
    assert OpenMetricsEncoder().render(registry) == expected


def test_what_it_cannot_render_falls_back_to_the_library() -> None:
    """A colon in a name, or an exemplar where none is allowed, goes to the library's encoder."""
    registry = CollectorRegistry()
    Counter("ns:jobs", "Colon.", registry=registry).inc()
    with pytest.raises(Fallback):
        OpenMetricsEncoder().render(registry)
    body, _ = render(Metrics(registry, process_collectors=False), PROMETHEUS_2_ACCEPT, "")
    assert body == _library(registry)

    class BadExemplar:
        def collect(self) -> list[Metric]:
            gauge = Metric("g", "Gauge.", "gauge")
            gauge.samples.append(Sample("g", {}, 1.0, None, Exemplar({"a": "b"}, 1.0)))
            return [gauge]

    bad = CollectorRegistry()
    bad.register(BadExemplar())  # type: ignore[arg-type]
    with pytest.raises(Fallback):
        OpenMetricsEncoder().render(bad)
    with pytest.raises(ValueError, match="exemplars"):
        render(Metrics(bad, process_collectors=False), PROMETHEUS_2_ACCEPT, "")


def test_values_format_as_go_floats() -> None:
    """Large, tiny and integral values are written the way Go's strconv writes them."""
    registry = CollectorRegistry()
    gauge = Gauge("v", "Values.", ["k"], registry=registry)
    for index, value in enumerate((1e-9, 1e21, 12345678.0, 0.1 + 0.2, -0.0, math.pi)):
        gauge.labels(str(index)).set(value)
    assert OpenMetricsEncoder().render(registry) == _library(registry)


async def test_the_endpoint_serves_prometheus_its_bytes_gzipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GET /metrics as Prometheus 3 sends it: gzip of the library's OpenMetrics bytes."""
    from tests.support.asgi import plugged_app, running

    app, sentient = plugged_app()
    jobs = sentient.metrics.counter("jobs_total", "Jobs.", ("kind",))
    for index in range(300):
        jobs.labels(f"k{index}").inc(index)
    async with running(app) as client:
        await client.get("/nowhere")
        response = await client.get(
            "/metrics", headers={"accept": PROMETHEUS_3_ACCEPT, "accept-encoding": "gzip"}
        )
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"] == (
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
        )
        # the client has already decompressed it
        assert response.content == _library(sentient.metrics.registry, om.ALLOWUTF8)


async def test_rendering_lets_other_tasks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A big scrape renders in slices on the loop: other tasks run before it finishes."""
    import asyncio

    from fastapi_sentient.metrics import _openmetrics_format as openmetrics_format
    from fastapi_sentient.metrics import _turns as turns
    from fastapi_sentient.metrics._exposition import MetricsEndpoint

    monkeypatch.setattr(turns, "SLICE_SECONDS", 0.0)
    metrics = Metrics(CollectorRegistry(), process_collectors=False)
    hist = metrics.histogram("work_seconds", "Work.", ("n",))
    for index in range(openmetrics_format.CHUNK_CHILDREN * 4):
        hist.labels(str(index)).observe(0.1)
    endpoint = MetricsEndpoint(metrics)
    ticks: list[int] = []
    done = asyncio.Event()

    async def other() -> None:
        while not done.is_set():
            ticks.append(len(ticks))
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other())
    await asyncio.sleep(0)
    before = len(ticks)
    body, _ = await endpoint._render(PROMETHEUS_2_ACCEPT, "")
    during = len(ticks) - before
    done.set()
    await ticker
    assert during >= 4  # at least one turn of the other task per slice
    assert body == _library(metrics.registry)
