"""httpx2's transport pool (fastapi_sentient._compat.httpx2), with a real transport and server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest

from fastapi_sentient._compat import httpx2 as httpx2_compat
from fastapi_sentient.exceptions import LibraryInternalsError

_REPLY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """An HTTP/1.1 server on 127.0.0.1 answering every request with 200 on a kept-alive connection."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(_REPLY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield f"http://127.0.0.1:{port}"


async def test_the_pools_connections_after_a_request(server: str) -> None:
    """One request leaves one idle connection in the transport's pool."""
    transport = httpx2.AsyncHTTPTransport()
    assert httpx2_compat.pool_connections(transport) == []
    async with httpx2.AsyncClient(transport=transport) as client:
        response = await client.get(server + "/")
        assert response.status_code == 200
        (connection,) = httpx2_compat.pool_connections(transport)
        assert connection.is_idle()
    assert httpx2_compat.pool_connections(transport) == []


def test_other_transports_have_no_pool_we_know() -> None:
    """A ``MockTransport`` gives no connections."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200))
    assert httpx2_compat.pool_connections(transport) == []


def test_a_transport_without_its_pool_fails_loudly() -> None:
    """An ``AsyncHTTPTransport`` without ``_pool`` names httpx2, its version and the attribute."""
    transport = httpx2.AsyncHTTPTransport()
    del transport._pool
    with pytest.raises(LibraryInternalsError, match=r"^httpx2 [\d.]+ has no _pool"):
        httpx2_compat.pool_connections(transport)
