"""Bare FastAPI: the baseline every other configuration is compared with."""

from bench.apps.common import create_app

app = create_app()
