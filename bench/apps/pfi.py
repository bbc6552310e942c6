"""prometheus-fastapi-instrumentator with its documented defaults."""

from prometheus_fastapi_instrumentator import Instrumentator

from bench.apps.common import create_app

app = create_app()
Instrumentator().instrument(app).expose(app)
