"""Exemplars: each duration observation points at the trace that produced it.

A subclass of the tracking middleware rather than a branch inside it, so an
install without tracing does not pay even an attribute lookup for the feature.
Only sampled spans become exemplars (an unsampled trace id leads nowhere), and
multiprocess mode gets none: prometheus_client cannot store them there.
"""

from __future__ import annotations

from starlette.types import Scope

from fastapi_sentient._middleware import RequestTrackingMiddleware
from fastapi_sentient.tracing._middleware import SPAN_CONTEXT_KEY


class ExemplarTrackingMiddleware(RequestTrackingMiddleware):
    """The tracking middleware, attaching ``trace_id``/``span_id`` exemplars to durations."""

    def _record(
        self,
        scope: Scope,
        entry_root_path: str,
        status: int,
        started: float,
        first_byte: float | None,
        finished: float | None,
        exemplar: dict[str, str] | None = None,
    ) -> None:
        span_context = scope.get(SPAN_CONTEXT_KEY)
        if span_context is not None:
            exemplar = {
                "trace_id": format(span_context.trace_id, "032x"),
                "span_id": format(span_context.span_id, "016x"),
            }
        super()._record(scope, entry_root_path, status, started, first_byte, finished, exemplar)
