"""The HTTP instruments and a cache of their labelled children.

``labels()`` in prometheus_client builds a tuple, takes a lock and hashes on
every call; caching the children per (method, route, status) keeps the
per-request cost to two observations and a counter increment.  The cache is
bounded because every key part is: routes are templates (or ``__unmatched__``),
methods are the standard nine or ``other``, status codes are three digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from fastapi_sentient.inflight import InFlight
from fastapi_sentient.metrics.registry import DEFAULT_BUCKETS, Metrics

TTFB_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class HttpMetrics:
    """``http_requests_total``, ``http_request_duration_seconds``, in-flight and TTFB."""

    def __init__(
        self,
        metrics: Metrics,
        inflight: InFlight,
        buckets: Sequence[float] | None = None,
    ) -> None:
        self.requests: Counter = metrics.counter(
            "http_requests_total",
            "HTTP requests served, by method, route template and status code.",
            ("method", "route", "status_code"),
        )
        self.duration: Histogram = metrics.histogram(
            "http_request_duration_seconds",
            "Time from request start to the last response body chunk.",
            ("method", "route", "status_code"),
            buckets=buckets or DEFAULT_BUCKETS,
        )
        self.ttfb: Histogram = metrics.histogram(
            "http_time_to_first_byte_seconds",
            "Time from request start to the response start (status and headers sent).",
            ("method", "route"),
            buckets=TTFB_BUCKETS,
        )
        self.in_flight: Gauge = metrics.gauge(
            "http_requests_in_flight",
            "HTTP requests and WebSocket connections being served.",
            multiprocess_mode="livesum",
        )
        self.multiprocess = metrics.multiprocess
        if not self.multiprocess:
            self.in_flight.set_function(lambda: inflight.count)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._ttfb_children: dict[tuple[str, str], Any] = {}

    def record(
        self,
        method: str,
        route: str,
        status: int,
        duration: float,
        ttfb: float | None,
        exemplar: dict[str, str] | None = None,
    ) -> None:
        """Record one finished request; ``exemplar`` links the duration to its trace."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            code = str(status)
            children = (
                self.requests.labels(method, route, code),
                self.duration.labels(method, route, code),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(duration, exemplar)
        if ttfb is not None:
            child = self._ttfb_children.get((method, route))
            if child is None:
                child = self._ttfb_children[(method, route)] = self.ttfb.labels(method, route)
            child.observe(ttfb)
