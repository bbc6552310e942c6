"""OpenTelemetry's FastAPI instrumentation with its defaults.

The instrumentation needs SDK providers to do anything; these are the ones
``opentelemetry-instrument`` sets up by default: a tracer provider (parent-based
always-on sampling) with a batch span processor, and a meter provider with a
periodic reader, both exporting OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``.
"""

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from bench.apps.common import add_span_probe, create_app

resource = Resource.create({"service.name": "bench-otel"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
meter_provider = MeterProvider(
    resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
)

app = create_app()
FastAPIInstrumentor.instrument_app(
    app, tracer_provider=tracer_provider, meter_provider=meter_provider
)
add_span_probe(app)
