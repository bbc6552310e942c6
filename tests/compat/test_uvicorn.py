"""uvicorn's Server found through its signal handler (fastapi_sentient._compat.uvicorn), on a real Server."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import uvicorn

from fastapi_sentient._compat.uvicorn import find_server


async def test_lifespan_startup_finds_the_serving_server() -> None:
    """During ``serve()`` the SIGTERM handler leads to the Server; before and after it does not."""
    found: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                found.append(find_server(signal.getsignal(signal.SIGTERM)))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    assert find_server(signal.getsignal(signal.SIGTERM)) is None
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="error")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            await asyncio.sleep(0.01)
    server.should_exit = True
    async with asyncio.timeout(30):
        await serving
    assert found == [server]
    assert found[0].config.port == 0
    assert find_server(signal.getsignal(signal.SIGTERM)) is None


def test_other_handlers_are_no_server() -> None:
    """Default handlers, plain functions and other bound methods give None."""
    assert find_server(signal.SIG_DFL) is None
    assert find_server(print) is None
    assert find_server([].append) is None
