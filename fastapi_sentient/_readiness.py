"""Whether ``/ready`` answers 200, and why not: one answer for the probe and the gauge.

Readiness is derived, never stored: the lifecycle's state and the critical checks'
cached results decide it at the moment it is asked, so the probe, the
``readiness_status`` gauge and the logs cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi_sentient._lifecycle import LifecycleState

if TYPE_CHECKING:
    from fastapi_sentient._lifecycle import Lifecycle
    from fastapi_sentient.health._registry import HealthRegistry
    from fastapi_sentient.metrics._registry import Metrics


class Readiness:
    """``/ready``'s answer from the lifecycle and the critical checks (no I/O)."""

    def __init__(self, lifecycle: Lifecycle, health: HealthRegistry, metrics: Metrics) -> None:
        self._lifecycle = lifecycle
        self._health = health
        self._gauge = metrics.gauge(
            "readiness_status",
            "1 while /ready answers 200 (started, not draining, critical checks passing), else 0.",
            multiprocess_mode="liveall",
        )
        self._push = metrics.multiprocess
        if not self._push:
            self._gauge.set_function(lambda: 1.0 if self.ready else 0.0)
        lifecycle.on_drain(self.publish)

    def unready_reason(self) -> str | None:
        """Why ``/ready`` would answer 503 now, or None when it answers 200."""
        state = self._lifecycle.state
        if state is not LifecycleState.RUNNING:
            return state.value
        if not self._health.critical_ok():
            return "critical check failing"
        return None

    @property
    def ready(self) -> bool:
        """Whether ``/ready`` would answer 200 now."""
        return self.unready_reason() is None

    def failing_critical(self) -> list[str]:
        """Names of the critical checks that keep the process out of the load balancer."""
        return self._health.failing_critical()

    def publish(self) -> None:
        """Push the gauge where the scrape cannot read it live (multiprocess mode)."""
        if self._push:
            self._gauge.set(1.0 if self.ready else 0.0)
