"""The request span: a lightweight SERVER span for the provider we own.

The SDK's ``Tracer.start_span`` costs more per request than the rest of our
request path: a sampler call through three objects, the attributes cleaned
into a ``BoundedAttributes`` twice, a lock per mutation, the span processors
called on start and on end, and a second, read-only copy of the span made at
the end.  When the provider is ours, its sampler is the parent-based ratio we
built and the only processor is our export queue, none of that changes what is
exported: this span implements the OpenTelemetry ``Span`` API with plain
fields, keeps its attributes as given, and is cleaned — with the SDK's own
limits and rules — by :meth:`RequestSpan.seal` on the exporter's thread.

Made current with ``trace.set_span_in_context``, it is the parent of the
spans user code, the pools and the LLM layer start inside the request, which
remain SDK spans.  Sampling keeps its meaning: a valid parent (an incoming
``traceparent``) decides for its children, a root is sampled when its trace id
falls under the ratio's bound, exactly as ``ParentBased(TraceIdRatioBased)``
decides; unsampled requests get a ``NonRecordingSpan`` as from the SDK.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanLimits
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

if TYPE_CHECKING:
    from opentelemetry.context import Context

logger = logging.getLogger("fastapi_sentient.tracing")

_PLAIN = frozenset((bool, int, float, bytes, type(None)))
_PLAIN_OR_STR = _PLAIN | {str}
_UNSET = Status(StatusCode.UNSET)
_TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT
_RANDOM_TRACE_ID = int(getattr(TraceFlags, "RANDOM_TRACE_ID", 0))
_FLAGS = {value: TraceFlags(value) for value in range(4)}

Sink = Callable[["RequestSpan"], None]


def _clean_value(value: Any, max_length: int | None) -> Any:
    """One value as the SDK stores it (sequences as tuples, long strings cut)."""
    return BoundedAttributes(None, {"v": value}, max_value_len=max_length).get("v")


class RequestSpan(trace.Span):
    """A recording span whose attributes are cleaned when exported, not when set."""

    __slots__ = (
        "_attributes",
        "_events",
        "_limits",
        "_links",
        "_sink",
        "context",
        "dropped_attributes",
        "dropped_events",
        "dropped_links",
        "end_time",
        "events",
        "instrumentation_scope",
        "kind",
        "links",
        "name",
        "parent",
        "resource",
        "start_time",
        "status",
    )

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        spans: RequestSpans,
    ) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self._attributes = attributes
        self._events: list[Event] | None = None
        self._links: list[Link] | None = None
        self._limits = spans.limits
        self._sink = spans.sink
        self.resource = spans.resource
        self.instrumentation_scope = spans.scope
        self.status = _UNSET
        self.start_time = time_ns()
        self.end_time: int | None = None
        self.events: Sequence[Event] = ()
        self.links: Sequence[Link] = ()
        self.dropped_attributes = 0
        self.dropped_events = 0
        self.dropped_links = 0

    def __repr__(self) -> str:
        return f'RequestSpan(name="{self.name}", context={self.context})'

    # --- the Span API ---------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self.end_time is not None:
            logger.warning("Setting attribute on ended span.")
            return
        own = self._attributes
        for key, value in attributes.items():
            if type(key) is not str or not key or type(value) not in _PLAIN_OR_STR:
                self.set_attribute(key, value)  # the rare cases, with their rules
                continue
            if key in own:
                del own[key]  # a key set again moves to the end, as in the SDK
            own[key] = value

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self.end_time is not None:
            logger.warning("Setting attribute on ended span.")
            return
        if not key or type(key) is not str:
            logger.warning("invalid key `%s`. must be non-empty string.", key)
            self.dropped_attributes += 1
            return
        if type(value) not in _PLAIN and type(value) is not str:
            # A list the caller mutates later must not change what was set.
            value = _clean_value(value, self._limits.max_span_attribute_length)
        attributes = self._attributes
        if key in attributes:
            del attributes[key]  # a key set again moves to the end, as in the SDK
        attributes[key] = value

    def add_event(
        self,
        name: str,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
    ) -> None:
        if self.end_time is not None:
            logger.warning("Tried calling add_event on an ended span.")
            return
        limits = self._limits
        cleaned = BoundedAttributes(
            limits.max_event_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        if self._events is None:
            self._events = []
        self._events.append(Event(name, cleaned, timestamp))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self.end_time is not None:
            logger.warning("Tried calling add_link on an ended span.")
            return
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        limits = self._limits
        cleaned = BoundedAttributes(
            limits.max_link_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        if self._links is None:
            self._links = []
        self._links.append(Link(context, cleaned))

    def update_name(self, name: str) -> None:
        if self.end_time is not None:
            logger.warning("Tried calling update_name on an ended span.")
            return
        self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self.end_time is not None:
            logger.warning("Tried calling set_status on an ended span.")
            return
        # An OK status is final, and UNSET never replaces anything (the SDK's rules).
        if self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is StatusCode.UNSET:
                return
            if description is not None:
                logger.warning(
                    "Description %s ignored. Use either `Status` or `(StatusCode, Description)`",
                    description,
                )
            self.status = status
        elif status is not StatusCode.UNSET:
            self.status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        values: dict[str, types.AnyValue] = {
            "exception.type": f"{module}.{qualname}"
            if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            values.update(attributes)
        self.add_event("exception", values, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            logger.warning("Calling end() on an ended span.")
            return
        self.end_time = end_time if end_time is not None else time_ns()
        self._sink(self)

    # --- on the exporter's thread -----------------------------------------------------------

    def seal(self) -> None:
        """Apply the span limits and the SDK's value rules to what was set; once, after end."""
        limits = self._limits
        attributes = self._attributes
        max_count = limits.max_span_attributes
        max_length = limits.max_span_attribute_length
        plain = max_count is None or len(attributes) <= max_count
        if plain:
            for value in attributes.values():
                kind = type(value)
                if kind is str:
                    if max_length is not None and len(value) > max_length:
                        plain = False
                        break
                elif kind not in _PLAIN:
                    plain = False
                    break
        if not plain:
            bounded = BoundedAttributes(
                max_count, attributes, immutable=True, max_value_len=max_length
            )
            self.dropped_attributes += bounded.dropped
            self._attributes = dict(bounded)
        events = self._events
        if events is not None:
            self._events = None
            keep = limits.max_events
            if keep is not None and len(events) > keep:
                self.dropped_events = len(events) - keep
                events = events[len(events) - keep :] if keep else []
            self.events = tuple(events)
        links = self._links
        if links is not None:
            self._links = None
            keep = limits.max_links
            if keep is not None and len(links) > keep:
                self.dropped_links = len(links) - keep
                links = links[len(links) - keep :] if keep else []
            self.links = tuple(links)

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The attributes (as set until :meth:`seal`, as exported after)."""
        return self._attributes


def _discard(span: RequestSpan) -> None:
    """The sink when nothing exports spans (``OTEL_TRACES_EXPORTER=none``)."""


class RequestSpans:
    """Starts :class:`RequestSpan` s with the provider's resource, limits and sampling ratio."""

    def __init__(
        self,
        *,
        ratio: float,
        resource: Resource,
        limits: SpanLimits,
        scope: InstrumentationScope,
        random_ids: bool,
        sink: Sink | None,
    ) -> None:
        if ratio >= 1.0:
            self.bound = _TRACE_ID_LIMIT + 1
        elif ratio <= 0.0:
            self.bound = 0
        else:
            self.bound = TraceIdRatioBased.get_bound_for_rate(ratio)
        self.resource = resource
        self.limits = limits
        self.scope = scope
        self.random_flag = _RANDOM_TRACE_ID if random_ids else 0
        self.sink: Sink = sink or _discard

    def start(
        self, name: str, parent: Context | None, kind: SpanKind, attributes: dict[str, Any]
    ) -> trace.Span:
        """A recording :class:`RequestSpan`, or a ``NonRecordingSpan`` when not sampled.

        ``attributes`` becomes the span's own dictionary: the caller must not reuse it.
        """
        parent_context = trace.get_current_span(parent).get_span_context()
        getrandbits = random.getrandbits
        if parent_context.is_valid:
            trace_id = parent_context.trace_id
            parent_flags = parent_context.trace_flags
            flags = parent_flags & (TraceFlags.SAMPLED | _RANDOM_TRACE_ID)
            trace_state = parent_context.trace_state
        else:
            trace_id = getrandbits(128)
            while not trace_id:
                trace_id = getrandbits(128)
            sampled = (trace_id & _TRACE_ID_LIMIT) < self.bound
            flags = self.random_flag | (TraceFlags.SAMPLED if sampled else 0)
            trace_state = None
        span_id = getrandbits(64)
        while not span_id:
            span_id = getrandbits(64)
        context = SpanContext(trace_id, span_id, False, _FLAGS[flags], trace_state)
        if not flags & TraceFlags.SAMPLED:
            return trace.NonRecordingSpan(context)
        return RequestSpan(
            name,
            context,
            parent_context if parent_context.is_valid else None,
            kind,
            attributes,
            self,
        )
