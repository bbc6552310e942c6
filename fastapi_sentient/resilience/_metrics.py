"""The resilience layer's instruments: breaker state for every breaker, and dependency calls.

``circuit_breaker_state`` and ``circuit_breaker_transitions_total`` cover every
breaker — the LLM layer's, the policies', a user's own registered with
:meth:`~fastapi_sentient.resilience._registry.ResilienceRegistry.register_breaker`.
The gauge is set on each transition (not read at scrape time), so it aggregates
across worker processes in multiprocess mode, one series per process.

``dependency_*`` count one sample per *attempt* of a call through a policy or a
named HTTP client: what the dependency saw.  Labels are bounded: ``dependency``
is a policy name (fixed by configuration or code), ``outcome`` one of eight
words and ``status_class`` one of ``1xx``…``5xx`` or ``none``.
"""

from __future__ import annotations

from typing import Any

from fastapi_sentient.metrics._registry import Metrics
from fastapi_sentient.resilience._breaker import BreakerState
from fastapi_sentient.resilience._outcome import Classification

#: Latencies of tool calls: from a cache hit to a slow search API.
DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class ResilienceMetrics:
    """Breaker states and transitions, dependency attempts, retries and refusals."""

    def __init__(self, metrics: Metrics) -> None:
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.state = metrics.gauge(
            "circuit_breaker_state",
            "Circuit breaker state per process: 0 closed, 1 open, 2 half-open.",
            ("name",),
            multiprocess_mode="liveall",
        )
        self.transitions = metrics.counter(
            "circuit_breaker_transitions_total",
            "Circuit breaker state changes.",
            ("name", "from_state", "to_state"),
        )
        self.requests = metrics.counter(
            "dependency_requests_total",
            "Attempts of calls through resilience policies and named HTTP clients, by outcome "
            "(success, error, client_error, throttled, timeout, circuit_open, rejected, "
            "cancelled) and HTTP status class (none without a response).",
            ("dependency", "outcome", "status_class"),
        )
        self.duration = metrics.histogram(
            "dependency_request_duration_seconds",
            "Duration of attempts that reached the dependency, seconds.",
            ("dependency", "outcome", "status_class"),
            buckets=DURATION_BUCKETS,
        )
        self.retries = metrics.counter(
            "dependency_retries_total",
            "Retries of dependency calls, by the error that caused them.",
            ("dependency", "reason"),
        )
        self.budget_exhausted = metrics.counter(
            "dependency_retry_budget_exhausted_total",
            "Retries refused because retries exceeded their share of calls.",
            ("dependency",),
        )
        self.bulkhead_rejections = metrics.counter(
            "dependency_bulkhead_rejections_total",
            "Calls refused because the policy's max_concurrency was full.",
            ("dependency",),
        )

    def publish_state(self, name: str, old: BreakerState, new: BreakerState) -> None:
        """Set the gauge; count the change when there was one."""
        self.state.labels(name).set(int(new))
        if old != new:
            self.transitions.labels(name, old.label, new.label).inc()

    def attempt(
        self, dependency: str, verdict: Classification, status_class: str, duration: float | None
    ) -> None:
        """One attempt (``duration`` None: refused before reaching the dependency)."""
        key = (dependency, verdict.status, status_class)
        children = self._children.get(key)
        if children is None:
            # label lookups cost more than the increments; the label sets are bounded
            children = self._children[key] = (
                self.requests.labels(*key),
                self.duration.labels(*key),
            )
        children[0].inc()
        if duration is not None:
            children[1].observe(duration)
