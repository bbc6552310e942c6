"""OTLPSpanExporter internals read by fastapi_sentient._compat.otlp, with a real exporter and receiver.

The fast exporter must behave as the SDK's exporter does apart from the
encoding: the same spans reach the collector, a batch above
``max_request_size`` is dropped, and the self-metrics record the same
operations.  Each test runs both exporters against an OTLP/HTTP receiver on
127.0.0.1 and compares.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from fastapi_sentient._compat import otlp as otlp_compat
from fastapi_sentient.tracing._encoder import FastOTLPSpanExporter, SpanEncoder
from tests.tracing.otlp import OtlpReceiver
from tests.tracing.test_encoder import varied_spans

_VERSION = tuple(
    int(part) for part in metadata.version("opentelemetry-exporter-otlp-proto-http").split(".")[:2]
)
#: The exporter versions that keep ``_client``, ``_max_request_size`` and ``_metrics``.
HAS_PIECES = _VERSION >= (1, 45)
HAS_MAX_REQUEST_SIZE = "max_request_size" in inspect.signature(OTLPSpanExporter).parameters
HAS_SELF_METRICS = "meter_provider" in inspect.signature(OTLPSpanExporter).parameters


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver().start()
    try:
        yield server
    finally:
        server.close()


def _endpoint(receiver: OtlpReceiver) -> str:
    return receiver.endpoint + "/v1/traces"


def test_the_pieces_exist_exactly_from_1_45(receiver: OtlpReceiver) -> None:
    """Exporters from 1.45 keep every piece the fast path uses; older ones get the SDK's export."""
    exporter = FastOTLPSpanExporter(endpoint=_endpoint(receiver))
    pieces = otlp_compat.export_pieces(exporter)
    assert (pieces is not None) == HAS_PIECES
    if pieces is not None:
        assert pieces.max_request_size == 64 * 1024 * 1024
        assert otlp_compat.is_shut_down(exporter) is False
        exporter.shutdown()
        assert otlp_compat.is_shut_down(exporter) is True
        assert exporter.export(varied_spans()) == SpanExportResult.FAILURE
    assert HAS_MAX_REQUEST_SIZE == HAS_PIECES


def test_both_exporters_deliver_the_same_spans(receiver: OtlpReceiver) -> None:
    """The receiver decodes the same spans from the fast exporter as from the SDK's."""
    spans = varied_spans()
    assert OTLPSpanExporter(endpoint=_endpoint(receiver)).export(spans) == SpanExportResult.SUCCESS
    theirs = receiver.snapshot()
    assert len(theirs) == len(spans)
    fast = FastOTLPSpanExporter(endpoint=_endpoint(receiver))
    assert fast.export(spans) == SpanExportResult.SUCCESS
    assert receiver.snapshot()[len(theirs) :] == theirs
    assert receiver.requests == 2


def _sizes() -> tuple[list[ReadableSpan], list[ReadableSpan], int]:
    spans = varied_spans()
    small, big = spans[:1], spans
    encoder = SpanEncoder()
    limit = (len(encoder.request(small)) + len(encoder.request(big))) // 2
    assert len(encoder.request(small)) < limit < len(encoder.request(big))
    return small, big, limit


@pytest.mark.skipif(not HAS_MAX_REQUEST_SIZE, reason="this exporter has no max_request_size")
@pytest.mark.parametrize("exporter_class", [OTLPSpanExporter, FastOTLPSpanExporter])
def test_a_batch_above_max_request_size_is_dropped(
    receiver: OtlpReceiver, exporter_class: type[OTLPSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """Above the limit the batch fails unsent and the exporter's warning says why; 0 is no limit."""
    small, big, limit = _sizes()
    exporter = exporter_class(endpoint=_endpoint(receiver), max_request_size=limit)  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING):
        assert exporter.export(big) == SpanExportResult.FAILURE
    assert receiver.requests == 0
    assert any("exceeds max_request_size" in r.getMessage() for r in caplog.records)
    assert exporter.export(small) == SpanExportResult.SUCCESS
    unlimited = exporter_class(endpoint=_endpoint(receiver), max_request_size=0)  # type: ignore[call-arg]
    assert unlimited.export(big) == SpanExportResult.SUCCESS
    assert receiver.requests == 2


def _self_metrics(
    exporter_class: type[OTLPSpanExporter], receiver: OtlpReceiver
) -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    """Success, too large, refused: the exporter's self-metrics for those three exports."""
    small, big, limit = _sizes()
    reader = InMemoryMetricReader()
    options: dict[str, Any] = {"meter_provider": MeterProvider(metric_readers=[reader])}
    if HAS_MAX_REQUEST_SIZE:
        options["max_request_size"] = limit
    exporter = exporter_class(endpoint=_endpoint(receiver), **options)
    assert exporter.export(small) == SpanExportResult.SUCCESS
    exporter.export(big)
    receiver.status = 400
    try:
        assert exporter.export(small) == SpanExportResult.FAILURE
    finally:
        receiver.status = 200
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[tuple[str, frozenset[tuple[str, Any]]], float] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = frozenset(
                        (k, v)
                        for k, v in (point.attributes or {}).items()
                        if k != "otel.component.name"  # numbered per exporter instance
                    )
                    value = getattr(point, "count", None)
                    found[(metric.name, attributes)] = (
                        value if value is not None else getattr(point, "value", 0)
                    )
    return found


@pytest.mark.skipif(not HAS_SELF_METRICS, reason="this exporter has no self-metrics")
def test_self_metrics_record_what_the_sdks_record(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exported, failed (with error type and status code) and in-flight counts are the SDK's."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    theirs = _self_metrics(OTLPSpanExporter, receiver)
    ours = _self_metrics(FastOTLPSpanExporter, receiver)
    assert theirs, "the exporter recorded no self-metrics"
    assert ours == theirs
    errors = {dict(attributes).get("error.type") for _, attributes in theirs}
    if HAS_MAX_REQUEST_SIZE:
        assert "RequestPayloadTooLargeError" in errors
