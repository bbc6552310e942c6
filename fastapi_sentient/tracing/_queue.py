"""The export queue: ended spans wait in a bounded deque for the exporter's thread.

It replaces the SDK's ``BatchSpanProcessor`` for the provider we own.  The
request path only appends to a deque (atomic under the GIL, no lock) and wakes
the thread once a batch is full; the batching, the attribute cleaning of our
request spans (:meth:`RequestSpan.seal`) and the encoding all happen on the
exporter's thread.  The SDK's spans — the user's own, LLM calls, SQL
statements — arrive through :meth:`on_end` like with any span processor, so
one queue carries both kinds in the order they ended.

The ``OTEL_BSP_*`` variables keep their meaning: the delay between exports,
the queue's bound, the batch size.  A span that finds the queue full is
dropped and counted in ``tracing_spans_dropped_total``.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from fastapi_sentient.tracing._request_span import RequestSpan

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

logger = logging.getLogger("fastapi_sentient.tracing")

_DEFAULTS = {
    "OTEL_BSP_SCHEDULE_DELAY": 5000,
    "OTEL_BSP_MAX_QUEUE_SIZE": 2048,
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": 512,
}


def _env_int(name: str) -> int:
    default = _DEFAULTS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        logger.warning("%s=%r is not an integer; using %d", name, raw, default)
        return default
    if value <= 0 and name != "OTEL_BSP_SCHEDULE_DELAY":
        logger.warning("%s=%r must be positive; using %d", name, raw, default)
        return default
    return value


class SpanQueue(SpanProcessor):
    """A span processor that batches ended spans to an exporter on a thread of its own."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        on_drop: Callable[[int], None] | None = None,
        max_queue_size: int | None = None,
        batch_size: int | None = None,
        schedule_delay: float | None = None,
    ) -> None:
        self.span_exporter = exporter
        self.max_queue_size = max_queue_size or _env_int("OTEL_BSP_MAX_QUEUE_SIZE")
        self.batch_size = min(
            batch_size or _env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), self.max_queue_size
        )
        delay = schedule_delay
        if delay is None:
            delay = max(_env_int("OTEL_BSP_SCHEDULE_DELAY"), 0) / 1000
        self.schedule_delay = delay
        self.dropped = 0
        self._on_drop = on_drop
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._waking = False
        self._export_lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        self._thread = self._start_thread()
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._after_fork)

            def after_in_child() -> None:
                method = reinit()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=after_in_child)

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, name="SentientSpanExport", daemon=True)
        thread.start()
        return thread

    def _after_fork(self) -> None:
        # The parent's spans and thread stay with the parent.
        self._queue.clear()
        self._wake = threading.Event()
        self._waking = False
        self._export_lock = threading.Lock()
        self._pid = os.getpid()
        self._thread = self._start_thread()

    # --- the request path ------------------------------------------------------------------

    def put(self, span: Any) -> None:
        """Queue an ended span for export; a full queue drops it and counts it."""
        queue = self._queue
        if len(queue) >= self.max_queue_size:
            if not self._closed:  # after shutdown spans are ignored, as by the SDK
                self._drop(1)
            return
        if self._closed:
            return
        queue.append(span)
        if len(queue) >= self.batch_size and not self._waking:
            self._waking = True
            self._wake.set()

    def _drop(self, count: int) -> None:
        if not self.dropped:
            logger.warning("tracing: the export queue is full; dropping spans")
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)

    # --- SpanProcessor ------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled SDK span (the user's own, a child span of ours)."""
        context = span.context
        if context is not None and context.trace_flags.sampled:
            self.put(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now, on the caller's thread."""
        if self._closed:
            return False
        self._export_all()
        return True

    def shutdown(self) -> None:
        """Export what is left, stop the thread and shut the exporter down."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(30.0)
        self._export_all()
        self.span_exporter.shutdown()

    # --- the exporter's thread ----------------------------------------------------------------

    def _work(self) -> None:
        while not self._closed:
            woken = self._wake.wait(self.schedule_delay)
            self._wake.clear()
            self._waking = False
            if self._closed:
                break
            # Woken by a full batch: export full batches only, so spans that keep
            # arriving during an export do not turn into a stream of tiny requests.
            # The delay elapsed: export at least what is there.
            self._export_batches(whole_queue=False, at_least_one=not woken)

    def _export_all(self) -> None:
        self._export_batches(whole_queue=True, at_least_one=True)

    def _export_batches(self, *, whole_queue: bool, at_least_one: bool) -> None:
        queue = self._queue
        size = self.batch_size
        with self._export_lock, suppress_instrumentation():
            first = at_least_one
            while queue and (whole_queue or first or len(queue) >= size):
                first = False
                count = min(len(queue), size)
                batch = [queue.popleft() for _ in range(count)]
                self._export(batch)

    def _export(self, batch: Sequence[Any]) -> None:
        for span in batch:
            if type(span) is RequestSpan:
                span.seal()
        try:
            self.span_exporter.export(batch)
        except Exception:  # the exporter's own retries gave up; the next batch tries again
            logger.exception("tracing: exporting %d spans failed", len(batch))
