"""Serving ``/metrics``: content negotiation, gzip, multiprocess, off the event loop.

We reuse prometheus_client's own negotiation (``choose_encoder``), so OpenMetrics
(the only format that carries exemplars) is served exactly when the scraper's
``Accept`` header asks for it.  Rendering runs in a worker thread: a registry of
ten thousand series takes tens of milliseconds to render, and probes sharing the
loop must not wait for it.
"""

from __future__ import annotations

import asyncio
import gzip

from prometheus_client.exposition import choose_encoder, generate_latest
from starlette.types import Receive, Scope, Send

from fastapi_sentient.metrics.registry import Metrics
from fastapi_sentient.metrics.text_format import TextEncoder

_GZIP_MIN_BYTES = 1024


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def render(
    metrics: Metrics, accept: str, accept_encoding: str, text: TextEncoder | None = None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The exposition body and its headers for the given request headers."""
    encoder, content_type = choose_encoder(accept)
    if encoder is generate_latest and text is not None:
        encoder = text.render  # the plain text format, with cached label strings
    body: bytes = encoder(metrics.collection_registry())
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
    if len(body) >= _GZIP_MIN_BYTES and "gzip" in accept_encoding:
        body = gzip.compress(body, compresslevel=5)
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"vary", b"accept, accept-encoding"))
    headers.append((b"content-length", str(len(body)).encode()))
    return body, headers


class MetricsEndpoint:
    """The ASGI endpoint behind ``/metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.text = TextEncoder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"GET, HEAD"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        body, headers = await asyncio.to_thread(
            render,
            self.metrics,
            _header(scope, b"accept"),
            _header(scope, b"accept-encoding"),
            self.text,
        )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
