"""starlette-exporter with its documented defaults."""

from starlette_exporter import PrometheusMiddleware, handle_metrics

from bench.apps.common import create_app

app = create_app()
app.add_middleware(PrometheusMiddleware)
app.add_route("/metrics", handle_metrics)
