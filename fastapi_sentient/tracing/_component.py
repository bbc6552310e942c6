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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from fastapi_sentient._middleware import RequestTrackingMiddleware
from fastapi_sentient._version import __version__
from fastapi_sentient.exceptions import ConfigurationError, StartupError
from fastapi_sentient.tracing import _spans as spans
from fastapi_sentient.tracing._exemplars import ExemplarTrackingMiddleware
from fastapi_sentient.tracing._middleware import ServerSpanMiddleware
from fastapi_sentient.tracing._provider import (
    SCHEMA_URL,
    SCOPE_NAME,
    SentientTracerProvider,
    build_processors,
)
from fastapi_sentient.tracing._queue import SpanQueue

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from fastapi_sentient._route_label import RouteIndex
    from fastapi_sentient._settings_groups import TracingSettings
    from fastapi_sentient.cluster import Coordinator
    from fastapi_sentient.cluster._events import ClusterEvent
    from fastapi_sentient.metrics._registry import Metrics
    from fastapi_sentient.pools import PoolRegistry

logger = logging.getLogger("fastapi_sentient.tracing")

#: The leadership changes that become span events.
CLUSTER_EVENTS = ("elected", "stopped_leading", "new_leader")


class Tracing:
    """The tracer provider's life and the pieces the install puts on the request path."""

    name = "tracing"

    def __init__(
        self,
        provider: TracerProvider,
        *,
        owned: bool,
        settings: TracingSettings,
        metrics: Metrics,
        mounts: Callable[[], RouteIndex],
        endpoint_paths: frozenset[str],
    ) -> None:
        """Args:
        provider: ours (``owned``: we add the exporters and shut it down) or the process's.
        settings: the tracing slice of the settings.
        metrics: where the dropped-span counter lives; multiprocess mode has no exemplars.
        mounts: the app's route index, for span names (read per request).
        endpoint_paths: our own endpoints, which get no span.
        """
        self.provider = provider
        self.owned = owned
        self.settings = settings
        self.multiprocess = metrics.multiprocess
        self.mounts = mounts
        self.endpoint_paths = endpoint_paths
        self.tracer = provider.get_tracer(SCOPE_NAME, __version__, schema_url=SCHEMA_URL)
        #: This app's span helpers (``add_event``, ``llm_span``), current in its requests and tasks.
        self.spans = spans.SpanHelpers(self.tracer)
        self.server_spans = True
        self.started = False
        self._dropped = metrics.counter(
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
        if self.settings.instrumentation == "opentelemetry":
            from fastapi_sentient.tracing._contrib import ContribServerSpanMiddleware, excluded_urls

            return ContribServerSpanMiddleware(
                app,
                self.provider,
                mounts=self.mounts,
                excluded=excluded_urls(self.endpoint_paths, patterns),
                helpers=self.spans,
            )
        return ServerSpanMiddleware(
            app,
            self.tracer,
            mounts=self.mounts,
            excluded=parse_excluded_urls(patterns).url_disabled if patterns else None,
            provider=self.provider if isinstance(self.provider, SentientTracerProvider) else None,
            helpers=self.spans,
        )

    def tracking_middleware(self) -> type[RequestTrackingMiddleware]:
        """The tracking middleware class: with exemplars, unless in multiprocess mode."""
        if self.multiprocess or not self.server_spans:
            return RequestTrackingMiddleware
        return ExemplarTrackingMiddleware

    # --- the other subsystems ---------------------------------------------------------------

    def follow(self, *, pools: PoolRegistry, cluster: Coordinator) -> TracedSubsystems:
        """Leadership changes as span events from now on; the component tracing the pools.

        The pools open after this component starts, so their child spans are
        hooked by the returned component, which goes right after the pools.
        """
        for event_type in CLUSTER_EVENTS:
            cluster.on(event_type, self._cluster_event)
        return TracedSubsystems(pools, self.provider)

    def _cluster_event(self, event: ClusterEvent) -> None:
        # Leadership changes happen in background loops: each becomes a short span
        # of its own carrying the event (see SpanHelpers.add_event).
        values = {"node_id": event.node_id, "epoch": event.epoch, "reason": event.reason}
        attributes = {f"cluster.{key}": value for key, value in values.items() if value is not None}
        self.spans.add_event(f"cluster.{event.type}", attributes)

    # --- Component --------------------------------------------------------------------------

    async def start(self) -> None:
        """Attach the exporters, become the global provider if none is set."""
        if self.owned:
            try:
                processors = build_processors(
                    fast_encoder=self.settings.fast_encoder, on_drop=self._dropped.inc
                )
            except ConfigurationError as exc:
                raise StartupError(str(exc)) from None
            for processor in processors:
                self.provider.add_span_processor(processor)
            self._use_request_spans(processors)
            if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
                # The user's own spans and other instrumentations join our traces.
                trace.set_tracer_provider(self.provider)
        # The lifespan's context: the background tasks it starts from here on inherit it.
        spans.use(self.spans)
        self.started = True

    def _use_request_spans(self, processors: list[Any]) -> None:
        provider = self.provider
        if not isinstance(provider, SentientTracerProvider):
            return
        if self.settings.instrumentation != "sentient":
            return
        if not processors:
            provider.use_request_spans(None)
        elif len(processors) == 1 and isinstance(processors[0], SpanQueue):
            provider.use_request_spans(processors[0].put)

    async def stop(self) -> None:
        """Flush the spans still queued, then shut the provider down (if it is ours)."""
        if spans.CURRENT.get() is self.spans:
            spans.use(None)
        if not self.started:
            return
        self.started = False
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._flush), self.settings.flush_timeout + 1.0
            )
        except TimeoutError:
            logger.warning(
                "tracing: spans not exported within SENTIENT_TRACING_FLUSH_TIMEOUT=%gs",
                self.settings.flush_timeout,
            )

    def _flush(self) -> None:
        millis = int(self.settings.flush_timeout * 1000)
        if not self.provider.force_flush(millis):
            logger.warning("tracing: some spans were not exported before shutdown")
        if self.owned:
            self.provider.shutdown()


class TracedSubsystems:
    """Child spans for the pools' calls, hooked once the pools are open (a lifespan component)."""

    name = "tracing-pools"

    def __init__(self, pools: PoolRegistry, provider: TracerProvider) -> None:
        self.pools = pools
        self.provider = provider
        self._traced = False

    async def start(self) -> None:
        """Trace every open pool (once: a pool's hooks outlive a restart of the lifespan)."""
        if self._traced:
            return
        self._traced = True
        traced = self.pools.instrument(self.provider)
        if traced:
            logger.info("tracing child spans of pools: %s", ", ".join(traced))

    async def stop(self) -> None:
        """Nothing to undo: the hooks go with the pools' engines and clients."""
