"""``sentient.resilience``: the named policies, every breaker's telemetry, health and sharing.

Policies come from ``SENTIENT_RESILIENCE_POLICIES`` and from code: the first
:meth:`ResilienceRegistry.policy` (or :meth:`~ResilienceRegistry.guard`) of a
name creates it from the configured settings with the call's overrides on top;
later calls return the same policy.  Every breaker the registry knows — the
policies', the LLM layer's, a user's own passed to :meth:`register_breaker` —
is exported as ``circuit_breaker_state`` and ``circuit_breaker_transitions_total``,
leaves a span event on each transition when tracing is on, and (for the
policies' and users') reports its dependency in ``/health``: degraded while the
breaker is not closed.  With ``SENTIENT_REDIS_URL`` the open/closed decisions are
shared across replicas, failing open (see :mod:`fastapi_sentient.resilience._shared`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.health._result import CheckResult, HealthStatus
from fastapi_sentient.resilience._breaker import BreakerState, CircuitBreaker
from fastapi_sentient.resilience._guard import Guard
from fastapi_sentient.resilience._metrics import ResilienceMetrics
from fastapi_sentient.resilience._policy import Policy
from fastapi_sentient.resilience._shared import SharedBreakers
from fastapi_sentient.settings import PolicySettings

if TYPE_CHECKING:
    from fastapi_sentient._lifecycle import Lifecycle
    from fastapi_sentient._redact import Redactor
    from fastapi_sentient._settings_groups import ResilienceSettings
    from fastapi_sentient.health._registry import HealthRegistry
    from fastapi_sentient.metrics._registry import Metrics

logger = logging.getLogger("fastapi_sentient.resilience")

CHECK_PREFIX = "dependency:"


class BreakerCheck:
    """Degraded while the breaker is open or half-open; no I/O, so it is always cheap."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    async def __call__(self) -> CheckResult:
        snapshot = self.breaker.snapshot()
        if self.breaker.state == BreakerState.CLOSED:
            return CheckResult(details=snapshot)
        return CheckResult(
            status=HealthStatus.DEGRADED,
            error=f"circuit {self.breaker.name} is {snapshot['state']}",
            details=snapshot,
        )


class ResilienceRegistry:
    """Named policies and the breakers of the whole app (a lifespan component)."""

    name = "resilience"

    def __init__(
        self,
        *,
        metrics: Metrics,
        health: HealthRegistry,
        lifecycle: Lifecycle,
        redactor: Redactor,
        settings: ResilienceSettings,
        cluster_name: str,
        node_id: Callable[[], str],
        redis: Callable[[], Any] | None = None,
        trace_events: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        """Create the configured policies now; checks and sharing begin at :meth:`start`.

        Args:
            settings: the configured policies; whether (``shared``) and how often
                (``sync_interval``) breaker decisions are shared through ``redis``.
            cluster_name: names the shared keys, so two clusters on one Redis stay apart.
            node_id: this process's id, read at :meth:`start` (the serving port is
                known by then).
            redis: the client of the Redis pool, read at :meth:`start`; the registry
                is built before the pools (they guard calls with its policies) and
                started after them.  None: decisions stay in this process.
            trace_events: leaves a span event for each transition (the app's tracing
                is on; :meth:`SpanHelpers.add_event <fastapi_sentient.tracing._spans.SpanHelpers.add_event>`).
        """
        self._health = health
        self._lifecycle = lifecycle
        self._redact = redactor
        self._configured = settings.policies
        self._share = settings.shared
        self._sync_interval = settings.sync_interval
        self._cluster_name = cluster_name
        self._node_id = node_id
        self._redis = redis
        self._trace_events = trace_events
        self.metrics = ResilienceMetrics(metrics)
        self.policies: dict[str, Policy] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self.shared: SharedBreakers | None = None
        self._sync: asyncio.Task[None] | None = None
        self._refreshing: set[asyncio.Task[Any]] = set()
        self.started = False
        for name in settings.policies:
            self.policy(name)

    def configured(self, name: str) -> bool:
        """Whether ``SENTIENT_RESILIENCE_POLICIES`` names a policy ``name``."""
        return name in self._configured

    # --- policies -------------------------------------------------------------------------

    def policy(self, name: str, **overrides: Any) -> Policy:
        """The policy ``name``: configured settings, then ``overrides`` (on first use only).

        Raises:
            ConfigurationError: invalid overrides, or overrides that differ from the
                settings the policy was created with.
        """
        configured = self._configured.get(name, PolicySettings())
        try:
            settings = PolicySettings.model_validate({**configured.model_dump(), **overrides})
        except ValueError as exc:
            msg = f"invalid settings for resilience policy {name!r}: {exc}".replace("\n", " ")
            raise ConfigurationError(msg) from None
        existing = self.policies.get(name)
        if existing is not None:
            if overrides and existing.settings != settings:
                msg = (
                    f"resilience policy {name!r} already exists with other settings; "
                    "pass its overrides once (or configure it in SENTIENT_RESILIENCE_POLICIES)"
                )
                raise ConfigurationError(msg)
            return existing
        policy = Policy(name, settings, metrics=self.metrics, on_transition=self.transitioned)
        self.policies[name] = policy
        if policy.breaker is not None:
            self._track(policy.breaker)
        return policy

    def guard(self, name: str, **overrides: Any) -> Guard:
        """The policy ``name`` as a decorator or an async context manager (see :class:`Guard`)."""
        return Guard(self.policy(name, **overrides))

    # --- breakers -------------------------------------------------------------------------

    def register_breaker(self, breaker: CircuitBreaker) -> CircuitBreaker:
        """Export, health-check and share a breaker built by hand."""
        if breaker.name in self._breakers:
            msg = f"a circuit breaker named {breaker.name!r} is already registered"
            raise ConfigurationError(msg)
        breaker.add_listener(self.transitioned)
        self._track(breaker)
        return breaker

    def breakers(self) -> list[CircuitBreaker]:
        """The policies' breakers and those registered by hand."""
        return list(self._breakers.values())

    def _track(self, breaker: CircuitBreaker) -> None:
        self._breakers[breaker.name] = breaker
        self.metrics.publish_state(breaker.name, breaker.state, breaker.state)
        if self.started:
            self._add_check(breaker)

    def transitioned(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        """Publish a state change of any breaker (the LLM layer's too)."""
        self.metrics.publish_state(breaker.name, old, new)
        if old == new:
            return
        if self._trace_events is not None:
            self._trace_events(
                "circuit_breaker.state_change",
                {"circuit_breaker.name": breaker.name, "from": old.label, "to": new.label},
            )
        if self.shared is not None and breaker.name in self._breakers:
            self.shared.transitioned(breaker, old, new)
        if self.started and breaker.name in self._breakers:
            self._refresh(CHECK_PREFIX + breaker.name)

    def share_breakers(self, redis: Any, *, prefix: str | None = None) -> SharedBreakers:
        """Share the breakers' open/closed decisions through ``redis``; fails open."""
        self.shared = SharedBreakers(
            redis,
            prefix=prefix or f"sentient:{{{self._cluster_name}}}:breaker:",
            interval=self._sync_interval,
            breakers=self.breakers,
            redact=self._redact,
            owner=self._node_id(),
        )
        return self.shared

    # --- health ---------------------------------------------------------------------------

    def _add_check(self, breaker: CircuitBreaker) -> None:
        self._health.add(
            CHECK_PREFIX + breaker.name, BreakerCheck(breaker), type="dependency", critical=False
        )

    def _refresh(self, check: str) -> None:
        if check not in self._health.checks:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._health.refresh(check))
        except RuntimeError:
            return
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    # --- lifespan -------------------------------------------------------------------------

    async def start(self) -> None:
        """Register the dependency checks and start sharing breaker decisions."""
        self.started = True
        for breaker in self._breakers.values():
            self._add_check(breaker)
        if self.shared is None and self._share and self._redis is not None:
            client = self._redis()
            if client is not None:
                self.share_breakers(client)
        if self.shared is not None:
            self._sync = self._lifecycle.spawn(self.shared.run(), "breaker-sync")

    async def stop(self) -> None:
        """Stop sharing and forget the checks."""
        for breaker in self._breakers.values():
            self._health.remove(CHECK_PREFIX + breaker.name)
        if self._sync is not None:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
            self._sync = None
        self.started = False
