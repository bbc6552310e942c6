"""The HTTP instruments and a cache of their labelled children.

``labels()`` in prometheus_client builds a tuple, takes a lock and hashes on
every call; caching the children per (method, route, status) keeps the
per-request cost to two observations and a counter increment.  The cache is
bounded because every key part is: routes are templates (or ``__unmatched__``),
methods are the standard nine or ``other``, status codes are three digits.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.samples import Exemplar

from fastapi_sentient._compat import prometheus as client_internals
from fastapi_sentient._inflight import InFlight
from fastapi_sentient.metrics._registry import DEFAULT_BUCKETS, Metrics

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
        self._children: dict[tuple[str, str, int], tuple[Any, _Observer]] = {}
        self._ttfb_children: dict[tuple[str, str], _Observer] = {}

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
                _Observer(self.duration.labels(method, route, code)),
            )
            self._children[key] = children
        children[0].inc()
        if exemplar is None:
            children[1].observe(duration)
        else:
            children[1].observe_with_exemplar(duration, exemplar)
        if ttfb is not None:
            observer = self._ttfb_children.get((method, route))
            if observer is None:
                observer = _Observer(self.ttfb.labels(method, route))
                self._ttfb_children[(method, route)] = observer
            observer.observe(ttfb)


class _Observer:
    """``Histogram.observe`` without its per-call loop over every bucket.

    prometheus_client walks the bucket list linearly and re-checks observability
    on each call, a large share of our per-request cost (docs/performance.md).  We
    keep the child's sum and bucket values and find the bucket by bisection —
    the same values land in the same buckets (a test compares expositions).
    Where the client's internals differ from what we expect, we fall back to
    the public ``observe``.
    """

    __slots__ = ("_bounds", "_buckets", "_sum", "child", "observe", "observe_with_exemplar")

    def __init__(self, child: Any) -> None:
        self.child = child
        parts = client_internals.histogram_observer_parts(child)
        if parts is None:
            self.observe = child.observe
            self.observe_with_exemplar = child.observe
            return
        self._bounds, self._buckets, self._sum = parts
        self.observe = self._fast
        self.observe_with_exemplar = self._fast_exemplar

    def _fast(self, amount: float) -> None:
        self._sum.inc(amount)
        self._buckets[bisect_left(self._bounds, amount)].inc(1)

    def _fast_exemplar(self, amount: float, exemplar: dict[str, str]) -> None:
        # Our exemplars are a trace and a span id, well inside the OpenMetrics label
        # limit that prometheus_client re-validates on every observation.
        self._sum.inc(amount)
        bucket = self._buckets[bisect_left(self._bounds, amount)]
        bucket.inc(1)
        bucket.set_exemplar(Exemplar(exemplar, amount, time.time()))
