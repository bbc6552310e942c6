"""A policy's breaker transitions become span events, in a request and in the background."""

from __future__ import annotations

from fastapi import FastAPI

from fastapi_sentient import include_plugin
from tests.support.asgi import running
from tests.tracing.conftest import tracing_settings
from tests.tracing.otlp import OtlpReceiver


async def test_policy_breaker_transitions_are_span_events(receiver: OtlpReceiver) -> None:
    """A guard's breaker opening in a route annotates the server span with the transition."""
    app = FastAPI()
    sentient = include_plugin(app, tracing_settings())
    guard = sentient.resilience.guard("vector-db", minimum_calls=1, window_size=1)

    @app.get("/tool")
    async def tool() -> dict[str, str]:
        try:
            async with guard:
                raise ConnectionError("vector database unreachable")
        except ConnectionError:
            return {"answer": "without the index"}

    async with running(app) as client:
        assert (await client.get("/tool")).status_code == 200
    spans = receiver.wait_for(lambda s: [x for x in s if x.name == "GET /tool"] and s)
    server = next(s for s in spans if s.name == "GET /tool")
    names = [name for name, _ in server.events]
    assert "circuit_breaker.state_change" in names
    _, attributes = next(e for e in server.events if e[0] == "circuit_breaker.state_change")
    assert attributes["circuit_breaker.name"] == "vector-db"
    assert (attributes["from"], attributes["to"]) == ("closed", "open")
