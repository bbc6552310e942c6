"""The tracking middleware: statuses, timing boundaries, in-flight, draining headers."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import BackgroundTasks, WebSocket
from fastapi.responses import StreamingResponse
from starlette.testclient import TestClient

from fastapi_sentient._inflight import InFlight
from fastapi_sentient._middleware import RequestTrackingMiddleware
from tests.support.asgi import plugged_app, running, sample


class Flag:
    """A stand-in for the lifecycle's drain flag (our own seam)."""

    is_draining = False


async def test_exception_counts_as_500_and_propagates() -> None:
    """An exception in a route is recorded as a 500 and still handled by the app's error layer."""
    app, _ = plugged_app()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    async with running(app) as client:
        with pytest.raises(RuntimeError):
            await client.get("/boom")
        text = (await client.get("/metrics")).text
    assert sample(text, "http_requests_total", route="/boom", status_code="500") == 1


def test_exception_is_a_500_response_behind_a_server() -> None:
    """Through a client that does not re-raise, the response is a plain 500 and counted once."""
    app, _ = plugged_app()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
        text = client.get("/metrics").text
    assert sample(text, "http_requests_total", route="/boom", status_code="500") == 1


async def test_duration_ends_at_last_body_chunk_not_background_task() -> None:
    """A slow background task after the response is not billed to the route."""
    app, _ = plugged_app()

    async def slow_task() -> None:
        await asyncio.sleep(0.3)

    @app.get("/bg")
    async def bg(tasks: BackgroundTasks) -> str:
        tasks.add_task(slow_task)
        return "ok"

    async with running(app) as client:
        await client.get("/bg")
        text = (await client.get("/metrics")).text
    total = sample(text, "http_request_duration_seconds_sum", route="/bg")
    assert total is not None and total < 0.25


async def test_streaming_records_ttfb_and_total_separately() -> None:
    """TTFB is the first byte; duration covers the whole stream."""
    app, _ = plugged_app()

    async def chunks() -> object:
        yield b"a"
        await asyncio.sleep(0.2)
        yield b"b"

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(chunks())

    async with running(app) as client:
        assert (await client.get("/stream")).content == b"ab"
        text = (await client.get("/metrics")).text
    ttfb = sample(text, "http_time_to_first_byte_seconds_sum", route="/stream")
    total = sample(text, "http_request_duration_seconds_sum", route="/stream")
    assert ttfb is not None and total is not None
    assert total >= 0.2 > ttfb


async def test_probes_and_metrics_are_not_recorded() -> None:
    """Our own endpoints never show up as routes."""
    app, _ = plugged_app()
    async with running(app) as client:
        for path in ("/live", "/ready", "/health", "/metrics"):
            await client.get(path)
        text = (await client.get("/metrics")).text
    recorded = [line for line in text.splitlines() if line.startswith("http_requests_total{")]
    assert recorded == []


async def test_in_flight_counts_requests_and_websockets() -> None:
    """The in-flight gauge sees requests and WebSocket connections while they run."""
    app, sentient = plugged_app()
    inside = asyncio.Event()
    release = asyncio.Event()

    @app.get("/hold")
    async def hold() -> str:
        inside.set()
        await release.wait()
        return "done"

    async with running(app) as client:
        task = asyncio.create_task(client.get("/hold"))
        await asyncio.wait_for(inside.wait(), 5)
        text = (await client.get("/metrics")).text
        assert sample(text, "http_requests_in_flight") == 1
        assert sentient.inflight.count == 1
        release.set()
        assert (await task).status_code == 200
    assert sentient.inflight.count == 0


def test_websocket_connection_is_in_flight() -> None:
    """An open WebSocket counts as in flight until it closes."""
    app, sentient = plugged_app()
    seen: list[int] = []

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        seen.append(sentient.inflight.count)
        await socket.send_text("hi")
        await socket.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "hi"
    assert seen == [1]
    assert sentient.inflight.count == 0


async def test_connection_close_while_draining() -> None:
    """Responses carry Connection: close once draining started, not before."""
    app, sentient = plugged_app()

    @app.get("/x")
    async def x() -> str:
        return "x"

    async with running(app) as client:
        before = await client.get("/x")
        sentient.lifecycle.begin_drain()
        during = await client.get("/x")
        ready = await client.get("/ready")
    assert before.headers.get("connection") != "close"
    assert during.headers.get("connection") == "close"
    assert during.status_code == 200
    assert ready.status_code == 503


async def test_no_per_request_state_on_self() -> None:
    """Serving requests leaves the middleware's attributes untouched."""
    seen: list[int] = []

    async def inner(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    middleware = RequestTrackingMiddleware(inner, inflight=InFlight(), drain=Flag())
    before = dict(vars(middleware))

    async def send(message: dict) -> None:
        seen.append(message.get("status", 0))

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "path": "/", "method": "GET", "headers": [], "root_path": ""}
    await asyncio.gather(*(middleware(dict(scope), receive, send) for _ in range(20)))
    assert dict(vars(middleware)) == before
    assert seen.count(204) == 20


async def test_recording_failure_never_fails_the_request() -> None:
    """A broken metrics backend is logged; the client still gets its response."""
    app, sentient = plugged_app()
    assert sentient.http_metrics is not None

    def broken(*args: object) -> None:
        raise ValueError("metrics backend broke")

    sentient.http_metrics.record = broken  # type: ignore[method-assign]

    @app.get("/ok")
    async def ok() -> str:
        return "fine"

    async with running(app) as client:
        response = await client.get("/ok")
    assert response.status_code == 200 and response.json() == "fine"


async def test_histogram_buckets_reach_300_seconds() -> None:
    """Agent routes get buckets up to 300 s."""
    app, _ = plugged_app()

    @app.get("/y")
    async def y() -> str:
        return "y"

    async with running(app) as client:
        await client.get("/y")
        text = (await client.get("/metrics")).text
    assert sample(text, "http_request_duration_seconds_bucket", route="/y", le="300.0") == 1


async def test_unrecorded_exclusions_are_still_served() -> None:
    """Excluded paths are served but not recorded."""
    app, _ = plugged_app(metrics_exclude_paths=["/internal"])

    @app.get("/internal")
    async def internal() -> str:
        return "hidden"

    async with running(app) as client:
        assert (await client.get("/internal")).json() == "hidden"
        text = (await client.get("/metrics")).text
    assert 'route="/internal"' not in text
