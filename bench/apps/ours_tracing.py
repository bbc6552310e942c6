"""fastapi_sentient with OpenTelemetry tracing on at 100 % sampling.

Spans are exported by OTLP/HTTP to the endpoint in ``OTEL_EXPORTER_OTLP_ENDPOINT``
(the harness points it at a local sink), the same exporter the OpenTelemetry
configuration uses.
"""

from bench.apps.common import add_span_probe, create_app
from fastapi_sentient import include_plugin
from fastapi_sentient.settings import load_settings

app = create_app()
sentient = include_plugin(app, load_settings(tracing_enabled=True, tracing_sample_ratio=1.0))
add_span_probe(app)
