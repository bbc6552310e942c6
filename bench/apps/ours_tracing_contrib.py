"""fastapi_sentient with tracing on at 100 % sampling through OpenTelemetry's instrumentation.

The same as ``bench.apps.ours_tracing`` with ``SENTIENT_TRACING_INSTRUMENTATION=opentelemetry``:
the server spans come from the contrib FastAPI instrumentation's middleware (no
send/receive spans, stable attributes, full route template) instead of ours.
"""

from bench.apps.common import add_span_probe, create_app
from fastapi_sentient import include_plugin
from fastapi_sentient.settings import load_settings

app = create_app()
sentient = include_plugin(
    app,
    load_settings(
        tracing_enabled=True, tracing_sample_ratio=1.0, tracing_instrumentation="opentelemetry"
    ),
)
add_span_probe(app)
