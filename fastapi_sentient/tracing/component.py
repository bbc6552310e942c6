"""Tracing as a lifespan component: export from startup, flush at the very end.

It is the first component, so it exports from the moment the others start, and
it stops after everything else — after drain, the shutdown tasks and the pools —
so the spans of the last requests are exported before the process exits.  A provider that someone else configured globally (``opentelemetry-
instrument``, the user's own setup) is used as it is and only flushed: its
owner shuts it down.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from fastapi_sentient._version import __version__
from fastapi_sentient.exceptions import ConfigurationError, StartupError
from fastapi_sentient.middleware import RequestTrackingMiddleware
from fastapi_sentient.tracing import spans
from fastapi_sentient.tracing.exemplars import ExemplarTrackingMiddleware
from fastapi_sentient.tracing.middleware import ServerSpanMiddleware
from fastapi_sentient.tracing.provider import SentientTracerProvider, build_processors
from fastapi_sentient.tracing.queue import SpanQueue

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from fastapi_sentient.sentient import Sentient

logger = logging.getLogger("fastapi_sentient.tracing")

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"


class Tracing:
    """The tracer provider's life and the pieces the install puts on the request path."""

    name = "tracing"

    def __init__(self, sentient: Sentient, provider: TracerProvider, *, owned: bool) -> None:
        self.sentient = sentient
        self.provider = provider
        self.owned = owned
        self.tracer = provider.get_tracer("fastapi_sentient", __version__, schema_url=_SCHEMA_URL)
        self.flush_timeout = sentient.settings.tracing_flush_timeout
        self.server_spans = True
        self.started = False
        self._hooked = False
        self._dropped = sentient.metrics.counter(
            "tracing_spans_dropped_total",
            "Spans dropped because the export queue was full.",
        )

    # --- the request path -----------------------------------------------------------------

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """The server-span middleware around the app (inside our tracking middleware).

        ``SENTIENT_TRACING_INSTRUMENTATION`` picks ours or OpenTelemetry's contrib one.
        """
        if not self.server_spans:
            return app
        from opentelemetry.util.http import parse_excluded_urls

        patterns = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or os.environ.get(
            "OTEL_PYTHON_EXCLUDED_URLS"
        )
        settings = self.sentient.settings
        if settings.tracing_instrumentation == "opentelemetry":
            from fastapi_sentient.tracing.contrib import ContribServerSpanMiddleware, excluded_urls

            return ContribServerSpanMiddleware(
                app,
                self.provider,
                mounts=self.sentient.mounts,
                excluded=excluded_urls(settings.endpoint_paths(), patterns),
            )
        return ServerSpanMiddleware(
            app,
            self.tracer,
            mounts=self.sentient.mounts,
            excluded=parse_excluded_urls(patterns).url_disabled if patterns else None,
            provider=self.provider if isinstance(self.provider, SentientTracerProvider) else None,
        )

    def tracking_middleware(self) -> type[RequestTrackingMiddleware]:
        """The tracking middleware class: with exemplars, unless in multiprocess mode."""
        if self.sentient.metrics.multiprocess or not self.server_spans:
            return RequestTrackingMiddleware
        return ExemplarTrackingMiddleware

    # --- Component --------------------------------------------------------------------------

    async def start(self) -> None:
        """Attach the exporters, become the global provider if none is set, trace the pools."""
        if self.owned:
            try:
                processors = build_processors(
                    fast_encoder=self.sentient.settings.tracing_fast_encoder,
                    on_drop=self._dropped.inc,
                )
            except ConfigurationError as exc:
                raise StartupError(str(exc)) from None
            for processor in processors:
                self.provider.add_span_processor(processor)
            self._use_request_spans(processors)
            if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
                # The user's own spans and other instrumentations join our traces.
                trace.set_tracer_provider(self.provider)
        spans.activate(self.tracer)
        self.started = True
        if not self._hooked:
            self._hooked = True
            self._watch_cluster()
            # Pools open after this component; their clients exist once startup tasks run.
            self.sentient.lifecycle.add_startup(
                "tracing-pools", self._instrument_pools, priority=1_000_000, timeout=5.0
            )

    def _use_request_spans(self, processors: list[Any]) -> None:
        provider = self.provider
        if not isinstance(provider, SentientTracerProvider):
            return
        if self.sentient.settings.tracing_instrumentation != "sentient":
            return
        if not processors:
            provider.use_request_spans(None)
        elif len(processors) == 1 and isinstance(processors[0], SpanQueue):
            provider.use_request_spans(processors[0].put)

    def _watch_cluster(self) -> None:
        on = getattr(self.sentient.cluster, "on", None)
        if on is None:
            return
        for event_type in ("elected", "stopped_leading", "new_leader"):
            on(event_type)(self._cluster_event)

    def _cluster_event(self, event: Any) -> None:
        # Leadership changes happen in background loops: each becomes a short span
        # of its own carrying the event (see spans.add_event).
        attributes = {
            f"cluster.{key}": value
            for key in ("node_id", "epoch", "reason")
            if (value := getattr(event, key, None)) is not None
        }
        spans.add_event(f"cluster.{event.type}", attributes)

    async def _instrument_pools(self) -> None:
        traced = self.sentient.pools.instrument(self.provider)
        if traced:
            logger.info("tracing child spans of pools: %s", ", ".join(traced))

    async def stop(self) -> None:
        """Flush the spans still queued, then shut the provider down (if it is ours)."""
        spans.deactivate(self.tracer)
        if not self.started:
            return
        self.started = False
        try:
            await asyncio.wait_for(asyncio.to_thread(self._flush), self.flush_timeout + 1.0)
        except TimeoutError:
            logger.warning(
                "tracing: spans not exported within SENTIENT_TRACING_FLUSH_TIMEOUT=%gs",
                self.flush_timeout,
            )

    def _flush(self) -> None:
        millis = int(self.flush_timeout * 1000)
        if not self.provider.force_flush(millis):
            logger.warning("tracing: some spans were not exported before shutdown")
        if self.owned:
            self.provider.shutdown()
