"""Serving ``/metrics``: content negotiation, gzip, multiprocess, latency of the rest.

We reuse prometheus_client's own negotiation (``choose_encoder``), so OpenMetrics
(the only format that carries exemplars) is served exactly when the scraper's
``Accept`` header asks for it — as Prometheus does by default — and render it
with our own encoders, which produce the library's bytes in less time.

A scrape of a large registry is a long stretch of Python, and the requests
sharing the process must not wait for all of it.  OpenMetrics is rendered on
the event loop in short slices that step aside whenever other work is waiting
(``_turns.py``), and compressed piece by piece in the same slices.  Multiprocess mode reads every worker's files, which
is file I/O: that rendering runs in a thread.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from functools import partial
from typing import Any

from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.types import Receive, Scope, Send

from fastapi_sentient.metrics._openmetrics_format import Fallback, OpenMetricsEncoder
from fastapi_sentient.metrics._registry import Metrics
from fastapi_sentient.metrics._text_format import TextEncoder
from fastapi_sentient.metrics._turns import Turns

_GZIP_MIN_BYTES = 1024
#: zlib's fastest level: expositions repeat their label strings, so higher levels
#: buy little size for their time (measured in docs/performance.md).
GZIP_LEVEL = 1
#: zlib's window bits for a gzip header and trailer.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _is_openmetrics_1(encoder: Any) -> bool:
    """Whether ``choose_encoder`` picked OpenMetrics 1.0.0 in a scheme our encoder writes."""
    return (
        isinstance(encoder, partial)
        and encoder.func is openmetrics.generate_latest
        and encoder.keywords.get("version") == "1.0.0"
        and encoder.keywords.get("escaping") in (openmetrics.UNDERSCORES, openmetrics.ALLOWUTF8)
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip: listed (or ``*``) with a q-value above 0.

    ``gzip;q=0`` refuses it (RFC 9110 §12.5.3), and an explicit ``gzip`` entry
    wins over ``*``.
    """
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            return quality > 0
        if coding == "*":
            star = quality
    return star is not None and star > 0


def _headers(content_type: str, body: bytes, gzipped: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"vary", b"accept, accept-encoding"))
    headers.append((b"content-length", str(len(body)).encode()))
    return headers


def render(
    metrics: Metrics,
    accept: str,
    accept_encoding: str,
    text: TextEncoder | None = None,
    om: OpenMetricsEncoder | None = None,
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The exposition body and its headers for the given request headers."""
    encoder, content_type = choose_encoder(accept)
    registry = metrics.collection_registry()
    body: bytes | None = None
    if _is_openmetrics_1(encoder):
        try:
            body = (om or OpenMetricsEncoder()).render(registry)
        except Fallback:
            body = None
    elif encoder is generate_latest:
        encoder = (text or TextEncoder()).render  # the plain text format, cached label strings
    if body is None:
        body = encoder(registry)
    gzipped = len(body) >= _GZIP_MIN_BYTES and accepts_gzip(accept_encoding)
    if gzipped:
        body = gzip.compress(body, compresslevel=GZIP_LEVEL)
    return body, _headers(content_type, body, gzipped)


class MetricsEndpoint:
    """The ASGI endpoint behind ``/metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.text = TextEncoder()
        self.openmetrics = OpenMetricsEncoder()

    async def _openmetrics(self, gzipped: bool) -> tuple[bytes, bool] | None:
        """OpenMetrics rendered, encoded and compressed on the loop in slices.

        Returns the body and whether it is gzipped, or None when the library must
        render it.  Each piece is encoded and fed to zlib as it comes, so no step
        of the scrape holds the loop for longer than a slice, and no thread
        competes with the loop for its core.
        """
        raw: list[bytes] = []
        size = 0
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS) if gzipped else None
        compressed: list[bytes] = []
        turns = Turns()
        try:
            for piece in self.openmetrics.chunks(self.metrics.registry):
                data = piece.encode("utf-8")
                raw.append(data)
                size += len(data)
                if compressor is not None:
                    compressed.append(compressor.compress(data))
                if turns.due():
                    await turns.step_aside()
        except Fallback:
            return None
        if compressor is None or size < _GZIP_MIN_BYTES:
            return b"".join(raw), False
        compressed.append(compressor.flush())
        return b"".join(compressed), True

    async def _render(self, accept: str, accept_encoding: str) -> tuple[bytes, list[Any]]:
        encoder, content_type = choose_encoder(accept)
        if self.metrics.multiprocess or not _is_openmetrics_1(encoder):
            return await asyncio.to_thread(
                render, self.metrics, accept, accept_encoding, self.text, self.openmetrics
            )
        rendered = await self._openmetrics(accepts_gzip(accept_encoding))
        if rendered is None:
            body = await asyncio.to_thread(encoder, self.metrics.registry)
            gzipped = len(body) >= _GZIP_MIN_BYTES and accepts_gzip(accept_encoding)
            if gzipped:
                body = await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL)
        else:
            body, gzipped = rendered
        return body, _headers(content_type, body, gzipped)

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
        body, headers = await self._render(
            _header(scope, b"accept"), _header(scope, b"accept-encoding")
        )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
