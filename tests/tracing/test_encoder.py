"""The cached OTLP encoder produces exactly the SDK encoder's message."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from fastapi_sentient.tracing._encoder import SpanEncoder


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: object) -> SpanExportResult:
        self.spans.extend(spans)  # type: ignore[arg-type]
        return SpanExportResult.SUCCESS


def varied_spans() -> list[ReadableSpan]:
    keep = Keep()
    provider = TracerProvider(
        resource=Resource({"service.name": "enc", "n": 3, "ok": True, "ratio": 0.5}, "s://r")
    )
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("t", "1.0", schema_url="s://scope", attributes={"lib": "x"})
    other = provider.get_tracer("other")
    remote = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "v1"), ("x", "y")]),
    )
    parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    for index in range(3):  # repeated values exercise the cache
        with tracer.start_as_current_span(
            "GET /items/{id}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "http.response.status_code": 200 + index,
                "flag": True,
                "one": 1,
                "negative": -42,
                "double": 1.0,
                "reasons": ["stop", "length"],
                "ints": [1, 2, 3],
                "unicode": "zürich ✓",
            },
            links=[Link(remote, {"link.kind": "follows"})],
        ) as span:
            span.add_event("retry", {"attempt": index, "delay": 0.25})
            with other.start_as_current_span("SELECT test", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "boom"))
                child.record_exception(ValueError("bad"))
            span.set_status(Status(StatusCode.OK))
    with tracer.start_as_current_span("bare") as span:
        pass
    return keep.spans


def test_encoding_matches_the_sdk_field_by_field() -> None:
    """Both encodings decode to equal messages, over two batches sharing the cache."""
    spans = varied_spans()
    encoder = SpanEncoder()
    for batch in (spans, spans[2:]):
        ours = ExportTraceServiceRequest()
        ours.ParseFromString(encoder.request(batch))
        theirs = ExportTraceServiceRequest()
        theirs.ParseFromString(encode_spans(batch).SerializeToString())
        assert ours == theirs
    assert len(spans) == 7


def test_bool_and_int_attributes_do_not_share_cache_entries() -> None:
    """True, 1 and 1.0 are different attribute values on the wire."""
    keep = Keep()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("t")
    for value in (True, 1, 1.0):
        tracer.start_span("s", attributes={"v": value}).end()
    request = ExportTraceServiceRequest()
    request.ParseFromString(SpanEncoder().request(keep.spans))
    spans = request.resource_spans[0].scope_spans[0].spans
    kinds = [span.attributes[0].value.WhichOneof("value") for span in spans]
    assert kinds == ["bool_value", "int_value", "double_value"]
