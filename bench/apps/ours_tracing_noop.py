"""fastapi_sentient with tracing on at 100 % sampling and no span processor.

The same as ``bench.apps.ours_tracing`` with ``OTEL_TRACES_EXPORTER=none``:
every request's server span is started, named, given its attributes and ended,
and nothing is queued or exported.  The floor of our tracing with a no-op span
processor: the distance from here to ``ours_tracing`` is the export's cost.
"""

import os

os.environ["OTEL_TRACES_EXPORTER"] = "none"

from bench.apps.common import add_span_probe, create_app
from fastapi_sentient import include_plugin
from fastapi_sentient.settings import load_settings

app = create_app()
sentient = include_plugin(app, load_settings(tracing_enabled=True, tracing_sample_ratio=1.0))
add_span_probe(app)
