"""fastapi_sentient's default install: ``include_plugin(app)`` and nothing else."""

from bench.apps.common import create_app
from fastapi_sentient import include_plugin

app = create_app()
sentient = include_plugin(app)
