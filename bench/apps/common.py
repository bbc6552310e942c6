"""The route every configuration serves, built the same way for all of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

ROUTE_PATH = "/api/v1/items/{item_id}"
REQUEST_PATH = "/api/v1/items/42"


def items_router() -> APIRouter:
    """``/items/{item_id}``, to be included under ``/api/v1``."""
    router = APIRouter(prefix="/items")

    @router.get("/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"item_id": item_id, "name": "widget"}

    return router


def create_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app serving the benchmark route and nothing else."""
    app = FastAPI(**kwargs)
    api = APIRouter()
    api.include_router(items_router())
    app.include_router(api, prefix="/api/v1")
    return app


def add_span_probe(app: FastAPI) -> None:
    """``GET /bench/span``: whether a recording span is current inside a route.

    The harness asks this before measuring a tracing configuration, so a
    configuration whose tracing is not wired up is reported as unavailable
    instead of being measured as if it traced.
    """
    from opentelemetry import trace

    @app.get("/bench/span")
    async def span_probe() -> dict[str, Any]:
        span = trace.get_current_span()
        return {"recording": bool(span.is_recording()), "valid": span.get_span_context().is_valid}
