"""OpenTelemetry's FastAPI instrumentation with traces only (no meter provider).

The same as ``bench.apps.otel`` without the SDK meter provider, so the
instrumentation's metrics go to the API's no-op meter: the closest like-for-like
peer of fastapi_sentient with tracing on, whose metrics go to Prometheus instead.
"""

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from bench.apps.common import add_span_probe, create_app

tracer_provider = TracerProvider(resource=Resource.create({"service.name": "bench-otel"}))
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))

app = create_app()
FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider)
add_span_probe(app)
