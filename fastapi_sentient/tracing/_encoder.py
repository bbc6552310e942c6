"""A faster OTLP span encoder for the OTLP/HTTP exporter.

The SDK's encoder builds a protobuf object per span, per attribute and per
value (docs/performance.md has the cost) — on the exporter's thread, but
under the same GIL as the requests, so it is paid by throughput.  Server spans
repeat themselves: the same keys, the same methods, routes, schemes and status
codes.  This encoder writes the protobuf wire format directly and keeps the
encoded bytes of each (key, value) attribute pair it has seen, so a typical
span costs a few byte joins.

The output decodes to exactly the message the SDK's encoder produces (a test
compares them field by field).  Anything unexpected falls back to the SDK's
encoder for the whole batch.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from fastapi_sentient._compat import otlp as otlp_compat

logger = logging.getLogger("fastapi_sentient.tracing")

_CACHE_LIMIT = 8192
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_DOUBLE = struct.Struct("<d")
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")
#: start_time_unix_nano (field 7) and end_time_unix_nano (field 8), fixed64 each.
_TIMES = struct.Struct("<BQBQ")
_IDS = struct.Struct(">QQ")


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length(size: int) -> bytes:
    # Most messages here are shorter than 16 KiB: one or two bytes, without a loop.
    if size < 0x80:
        return bytes((size,))
    if size < 0x4000:
        return bytes(((size & 0x7F) | 0x80, size >> 7))
    return _varint(size)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _length(len(payload)) + payload


def _string(tag: bytes, text: str) -> bytes:
    return _field(tag, text.encode("utf-8"))


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message body."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _string(b"\x0a", value)
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        pairs = b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return _field(b"\x32", pairs)
    msg = f"cannot encode {type(value).__name__} attribute values"
    raise TypeError(msg)


def _key_value(key: str, value: Any) -> bytes:
    return _string(b"\x0a", key) + _field(b"\x12", _any_value(value))


class SpanEncoder:
    """Encodes span batches as ``ExportTraceServiceRequest`` bytes, caching repeated pieces."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[Any, ...], bytes] = {}
        self._names: dict[str, bytes] = {}
        # id → (object, bytes): holding the object keeps its id from being reused.
        self._heads: dict[int, tuple[Any, bytes]] = {}

    def _attributes(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        if not attributes:
            return b""
        pairs = self._pairs
        parts = []
        for key, value in attributes.items():
            # The type is part of the key: True == 1 == 1.0 would otherwise share an entry.
            kind = type(value)
            cache_key = (tag, key, value) if kind is str else (tag, key, kind, value)
            try:
                encoded = pairs.get(cache_key)
            except TypeError:  # an unhashable value (a list): encode it every time
                parts.append(_field(tag, _key_value(key, value)))
                continue
            if encoded is None:
                encoded = _field(tag, _key_value(key, value))
                if len(pairs) >= _CACHE_LIMIT:
                    pairs.clear()
                pairs[cache_key] = encoded
            parts.append(encoded)
        return b"".join(parts)

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            encoded = self._names[name] = _string(b"\x2a", name)
        return encoded

    def span(self, span: ReadableSpan) -> bytes:
        """One ``Span`` message body."""
        context = span.get_span_context()
        assert context is not None
        parent = span.parent
        trace_id = context.trace_id
        parts = [
            b"\x0a\x10"
            + _IDS.pack(trace_id >> 64, trace_id & 0xFFFFFFFFFFFFFFFF)
            + b"\x12\x08"
            + context.span_id.to_bytes(8, "big")
        ]
        if context.trace_state:
            state = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
            parts.append(_string(b"\x1a", state))
        if parent is not None:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        parts.append(self._name(span.name))
        parts.append(_KINDS[span.kind])
        parts.append(_TIMES.pack(0x39, span.start_time or 0, 0x41, span.end_time or 0))
        parts.append(self._attributes(b"\x4a", span.attributes))
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        for event in span.events:
            body = b"\x09" + _FIXED64.pack(event.timestamp) + _string(b"\x12", event.name)
            body += self._attributes(b"\x1a", event.attributes)
            if event.dropped_attributes:
                body += b"\x20" + _varint(event.dropped_attributes)
            parts.append(_field(b"\x5a", body))
        if span.dropped_events:
            parts.append(b"\x60" + _varint(span.dropped_events))
        for link in span.links:
            linked = link.context
            body = b"\x0a\x10" + linked.trace_id.to_bytes(16, "big")
            body += b"\x12\x08" + linked.span_id.to_bytes(8, "big")
            body += self._attributes(b"\x22", link.attributes)
            if link.dropped_attributes:
                body += b"\x28" + _varint(link.dropped_attributes)
            body += b"\x35" + _FIXED32.pack(_flags(linked))
            parts.append(_field(b"\x6a", body))
        if span.dropped_links:
            parts.append(b"\x70" + _varint(span.dropped_links))
        status = span.status
        if status.description:
            body = _string(b"\x12", status.description)
            if status.status_code.value:
                body += b"\x18" + _varint(status.status_code.value)
            parts.append(_field(b"\x7a", body))
        else:
            parts.append(_STATUSES[status.status_code])
        parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
        return b"".join(parts)

    def _head(self, owner: Any, build: Any) -> bytes:
        # Resources and scopes are few and long-lived: encode each once.
        cached = self._heads.get(id(owner))
        if cached is None or cached[0] is not owner:
            cached = self._heads[id(owner)] = (owner, build(owner))
        return cached[1]

    def request(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The ``ExportTraceServiceRequest`` for ``spans``, grouped by resource and scope."""
        grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
        for span in spans:
            resource, scope = span.resource, span.instrumentation_scope
            scopes = grouped.setdefault(id(resource), (resource, {}))[1]
            scopes.setdefault(id(scope), (scope, []))[1].append(_field(b"\x12", self.span(span)))
        out = []
        for resource, scopes in grouped.values():
            body = _field(b"\x0a", self._head(resource, self._resource))
            for scope, encoded in scopes.values():
                scope_body = _field(b"\x0a", self._head(scope, self._scope)) + b"".join(encoded)
                if scope is not None and scope.schema_url:
                    scope_body += _string(b"\x1a", scope.schema_url)
                body += _field(b"\x12", scope_body)
            if resource.schema_url:
                body += _string(b"\x1a", resource.schema_url)
            out.append(_field(b"\x0a", body))
        if len(self._heads) > 64:
            self._heads.clear()
        return b"".join(out)

    def _resource(self, resource: Any) -> bytes:
        return b"".join(_field(b"\x0a", _key_value(k, v)) for k, v in resource.attributes.items())

    def _scope(self, scope: Any) -> bytes:
        if scope is None:
            return b""
        body = _string(b"\x0a", scope.name) if scope.name else b""
        if scope.version:
            body += _string(b"\x12", scope.version)
        for key, value in (scope.attributes or {}).items():
            body += _field(b"\x1a", _key_value(key, value))
        return body


_KINDS = {kind: b"\x30" + _varint(kind.value + 1) for kind in SpanKind}
_STATUSES = {
    code: _field(b"\x7a", b"\x18" + _varint(code.value) if code.value else b"")
    for code in StatusCode
}
_LOCAL_PARENT = b"\x85\x01" + _FIXED32.pack(_HAS_IS_REMOTE)
_REMOTE_PARENT = b"\x85\x01" + _FIXED32.pack(_HAS_IS_REMOTE | _IS_REMOTE)


def _flags(context: Any) -> int:
    return _HAS_IS_REMOTE | (_IS_REMOTE if context is not None and context.is_remote else 0)


class FastOTLPSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP exporter (endpoint, headers, TLS, retries) with :class:`SpanEncoder`.

    Everything but the encoding stays the exporter's: its HTTP client, its
    ``max_request_size`` and its self-metrics (see ``fastapi_sentient._compat.otlp``).
    An exporter version without those pieces exports with the SDK's encoder.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._encoder = SpanEncoder()
        self._pieces = otlp_compat.export_pieces(self)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        pieces = self._pieces
        if pieces is None or otlp_compat.is_shut_down(self):
            return super().export(spans)
        try:
            data = self._encoder.request(spans)
        except Exception:
            logger.warning("span encoding failed; using the SDK's encoder", exc_info=True)
            return super().export(spans)
        sent = otlp_compat.send(pieces, data, len(spans))
        return SpanExportResult.SUCCESS if sent else SpanExportResult.FAILURE
