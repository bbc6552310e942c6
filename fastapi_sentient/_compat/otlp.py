"""The internals of opentelemetry-exporter-otlp-proto-http's ``OTLPSpanExporter``.

Our fast encoder (``SENTIENT_TRACING_FAST_ENCODER``) replaces one step of the
exporter's ``export``: turning spans into bytes.  The exporter has no hook for
that step — ``export`` calls the module's ``encode_spans`` — so the fast
exporter runs the rest of ``export`` itself, through the pieces the exporter
keeps: ``_client`` (the HTTP client with its retries, compression, TLS and
timeout), ``_max_request_size`` (batches above it are dropped, as the exporter
does) and ``_metrics`` (its self-metrics, a no-op unless
``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true``), plus ``_shutdown``.
:func:`send` is that rest of ``export``, step for step.

Exporters that keep other internals (before 1.45 there is no ``_client``) get
the documented fallback: the fast exporter calls the SDK's own ``export``, so
spans are encoded by the SDK's encoder, said once at WARNING.
``tests/compat/test_otlp.py`` pins which versions have the pieces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi_sentient._compat import warn_fallback

__all__ = ["ExportPieces", "export_pieces", "is_shut_down", "send"]

_EXPORTER = "opentelemetry-exporter-otlp-proto-http"
_PIECES = ("_client", "_max_request_size", "_metrics", "_shutdown")

# The exporter's own logger: its drop warnings read the same from either path.
_exporter_logger = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")


@dataclass(frozen=True, slots=True)
class ExportPieces:
    """What the exporter's ``export`` uses once the spans are bytes."""

    client: Any
    max_request_size: int
    metrics: Any
    too_large: type[Exception]


def export_pieces(exporter: Any) -> ExportPieces | None:
    """The exporter's ``_client``, ``_max_request_size`` and ``_metrics``; None (warned) without them."""
    missing = [name for name in _PIECES if not hasattr(exporter, name)]
    too_large: type[Exception] | None
    try:
        from opentelemetry.exporter.otlp.proto.http._common import RequestPayloadTooLargeError
    except ImportError:
        too_large = None
        missing.append("_common.RequestPayloadTooLargeError")
    else:
        too_large = RequestPayloadTooLargeError
    if missing or too_large is None:
        warn_fallback(
            _EXPORTER,
            "OTLPSpanExporter." + "/".join(missing),
            "spans are encoded by the SDK's encoder (SENTIENT_TRACING_FAST_ENCODER has no effect)",
        )
        return None
    return ExportPieces(
        client=exporter._client,
        max_request_size=int(exporter._max_request_size),
        metrics=exporter._metrics,
        too_large=too_large,
    )


def is_shut_down(exporter: Any) -> bool:
    """The exporter's ``_shutdown`` flag (``export`` after ``shutdown`` fails, as the SDK's does)."""
    return bool(exporter._shutdown)


def send(pieces: ExportPieces, data: bytes, count: int) -> bool:
    """Export ``count`` spans already encoded as ``data``, as the exporter's ``export`` does.

    Inside the self-metrics' export operation: drop a request above
    ``max_request_size`` (0 or less: no limit), else send it through the
    exporter's client; a failure is recorded with its error and status code.
    """
    from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

    with pieces.metrics.export_operation(count) as result:
        limit = pieces.max_request_size
        if limit > 0 and len(data) > limit:
            _exporter_logger.warning(
                "Dropping span batch: serialized size %d bytes exceeds max_request_size %d bytes.",
                len(data),
                limit,
            )
            result.error = pieces.too_large(
                f"Serialized span request size {len(data)} bytes exceeds max_request_size "
                f"{limit} bytes."
            )
            return False
        sent = pieces.client.export(data)
        if not sent.success:
            result.error = sent.error
            result.error_attrs = (
                {HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                if sent.status_code is not None
                else None
            )
            return False
    return True
