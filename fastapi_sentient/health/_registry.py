"""The health registry: checks run on their own schedule; probes read the results.

Probes never do I/O.  Each check runs in a background loop at its interval with a
hard timeout (the coroutine is cancelled, so a hung dependency costs one task,
not a pile of them), and the latest result is kept.  An on-demand refresh joins
the run already under way (single flight).  Hysteresis turns raw outcomes into
the reported status: ``fail_after`` consecutive failures before a healthy check
reports unhealthy, ``recover_after`` successes before it recovers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi_sentient._redact import Redactor
from fastapi_sentient.health._result import CheckResult, HealthStatus, aggregate

logger = logging.getLogger("fastapi_sentient.health")

CheckFunction = Callable[[], Awaitable[CheckResult | None]]
F = TypeVar("F", bound=CheckFunction)
Listener = Callable[[str, HealthStatus, HealthStatus], None]


@dataclass(slots=True)
class CheckState:
    """A registered check, its schedule and what it last said."""

    name: str
    function: CheckFunction
    type: str
    critical: bool
    timeout: float
    interval: float
    fail_after: int
    recover_after: int
    status: HealthStatus = HealthStatus.UNKNOWN
    last: CheckResult | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last_healthy_at: datetime | None = None
    runs: int = 0
    running: asyncio.Task[CheckResult] | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        """The per-check entry of the ``/health`` details."""
        last = self.last
        return {
            "status": self.status.value,
            "type": self.type,
            "critical": self.critical,
            "responseTime": round(last.response_time, 6) if last else None,
            "timestamp": last.timestamp.isoformat() if last else None,
            "consecutiveFailures": self.consecutive_failures,
            "lastHealthyAt": self.last_healthy_at.isoformat() if self.last_healthy_at else None,
            "error": last.error if last else None,
            "details": last.details if last else {},
        }


class HealthRegistry:
    """Registered checks, their background runs and their latest results."""

    def __init__(
        self,
        *,
        default_timeout: float = 2.0,
        default_interval: float = 10.0,
        fail_after: int = 1,
        recover_after: int = 1,
        metadata: dict[str, Any] | None = None,
        redactor: Redactor | None = None,
        on_status: Callable[[CheckState], None] | None = None,
    ) -> None:
        self._checks: dict[str, CheckState] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._listeners: list[Listener] = []
        self._default_timeout = default_timeout
        self._default_interval = default_interval
        self._fail_after = fail_after
        self._recover_after = recover_after
        self.metadata = metadata or {}
        self._redact = redactor or Redactor()
        self._on_status = on_status
        self._spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]] | None = None
        self.started = False

    # --- registration -------------------------------------------------------------------------

    def add(
        self,
        name: str,
        function: CheckFunction,
        *,
        type: str = "custom",
        critical: bool = True,
        timeout: float | None = None,
        interval: float | None = None,
        fail_after: int | None = None,
        recover_after: int | None = None,
    ) -> CheckState:
        """Register ``function`` as the check ``name``; it returns None, a CheckResult or raises."""
        if name in self._checks:
            msg = f"a health check named {name!r} is already registered"
            raise ValueError(msg)
        state = CheckState(
            name=name,
            function=function,
            type=type,
            critical=critical,
            timeout=timeout if timeout is not None else self._default_timeout,
            interval=interval if interval is not None else self._default_interval,
            fail_after=fail_after if fail_after is not None else self._fail_after,
            recover_after=recover_after if recover_after is not None else self._recover_after,
        )
        if state.timeout <= 0 or state.interval <= 0:
            msg = f"health check {name!r}: timeout and interval must be positive"
            raise ValueError(msg)
        self._checks[name] = state
        if self._on_status is not None:
            self._on_status(state)
        if self.started and self._spawn is not None:
            self._loops.append(self._spawn(self._loop(state, first_now=True), f"health:{name}"))
        return state

    def check(
        self,
        name: str,
        *,
        type: str = "custom",
        critical: bool = True,
        timeout: float | None = None,
        interval: float | None = None,
        fail_after: int | None = None,
        recover_after: int | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of :meth:`add`: ``@sentient.health.check("db", critical=True)``."""

        def register(function: F) -> F:
            self.add(
                name,
                function,
                type=type,
                critical=critical,
                timeout=timeout,
                interval=interval,
                fail_after=fail_after,
                recover_after=recover_after,
            )
            return function

        return register

    def remove(self, name: str) -> None:
        """Forget a check (its background loop ends at its next wake-up)."""
        self._checks.pop(name, None)

    def on_change(self, listener: Listener) -> Listener:
        """Call ``listener(name, old, new)`` whenever a check's reported status changes."""
        self._listeners.append(listener)
        return listener

    # --- reading ---------------------------------------------------------------------------

    @property
    def checks(self) -> dict[str, CheckState]:
        """Registered checks by name (read-only view by convention)."""
        return self._checks

    def status(self) -> HealthStatus:
        """Aggregate of every check's reported status."""
        return aggregate([c.status for c in self._checks.values()])

    def critical_ok(self) -> bool:
        """Every critical check is healthy or degraded (no I/O: cached results only)."""
        for state in self._checks.values():
            if state.critical and state.status not in (HealthStatus.HEALTHY, HealthStatus.DEGRADED):
                return False
        return True

    def failing_critical(self, limit: int = 10) -> list[str]:
        """Names of the critical checks keeping ``/ready`` at 503 (at most ``limit``)."""
        failing: list[str] = []
        for state in self._checks.values():
            if state.critical and state.status not in (HealthStatus.HEALTHY, HealthStatus.DEGRADED):
                failing.append(state.name)
                if len(failing) == limit:
                    break
        return failing

    def counts(self) -> dict[str, int]:
        """How many checks report each status."""
        counts = {s.value: 0 for s in HealthStatus}
        for state in self._checks.values():
            counts[state.status.value] += 1
        return counts

    # --- running ---------------------------------------------------------------------------

    async def start(
        self, spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]
    ) -> None:
        """Run every check once (concurrently), then keep each on its schedule."""
        self._spawn = spawn
        await self.refresh()
        for state in list(self._checks.values()):
            self._loops.append(spawn(self._loop(state, first_now=False), f"health:{state.name}"))
        self.started = True

    async def stop(self) -> None:
        """Cancel the loops and any run in progress, and wait for them."""
        self.started = False
        tasks: list[asyncio.Task[Any]] = list(self._loops)
        tasks += [s.running for s in self._checks.values() if s.running is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()

    async def refresh(self, name: str | None = None) -> None:
        """Run one check (or all) now, joining runs already in flight."""
        targets = [self._checks[name]] if name is not None else list(self._checks.values())
        await asyncio.gather(*(self.run(state) for state in targets))

    async def run(self, state: CheckState) -> CheckResult:
        """Run ``state``'s check once; concurrent callers share one run (single flight)."""
        task = state.running
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._execute(state))
            state.running = task
        return await asyncio.shield(task)

    async def _loop(self, state: CheckState, *, first_now: bool) -> None:
        if first_now:
            await self.run(state)
        while self._checks.get(state.name) is state:
            await asyncio.sleep(state.interval)
            await self.run(state)

    async def _execute(self, state: CheckState) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(state.timeout):
                outcome = await state.function()
            result = outcome if outcome is not None else CheckResult()
        except TimeoutError:
            result = CheckResult(
                status=HealthStatus.UNHEALTHY, error=f"timed out after {state.timeout:g}s"
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  a user's check may raise anything: unhealthy
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            result = CheckResult(status=HealthStatus.UNHEALTHY, error=self._redact(text))
        result.response_time = time.perf_counter() - started
        result.timestamp = datetime.now(UTC)
        if result.error is not None:
            result.error = self._redact(result.error)
        self._record(state, result)
        return result

    def _record(self, state: CheckState, result: CheckResult) -> None:
        state.runs += 1
        state.last = result
        old = state.status
        failed = result.status in (HealthStatus.UNHEALTHY, HealthStatus.UNKNOWN)
        if failed:
            state.consecutive_failures += 1
            state.consecutive_successes = 0
            if old == HealthStatus.UNHEALTHY or state.consecutive_failures >= state.fail_after:
                new = HealthStatus.UNHEALTHY
            elif old == HealthStatus.UNKNOWN:
                # Not confirmed yet, and never seen healthy: a critical check stays unknown
                # (not ready), a non-critical one reports its concern as degraded.
                new = HealthStatus.UNKNOWN if state.critical else HealthStatus.DEGRADED
            else:
                new = old  # hysteresis: hold the last good status, error visible in details
        else:
            state.consecutive_successes += 1
            state.consecutive_failures = 0
            state.last_healthy_at = result.timestamp
            if old == HealthStatus.UNHEALTHY and state.consecutive_successes < state.recover_after:
                new = old
            else:
                new = result.status
        state.status = new
        result.metadata = {
            **self.metadata,
            "consecutiveFailures": state.consecutive_failures,
            "lastHealthyAt": state.last_healthy_at.isoformat() if state.last_healthy_at else None,
        }
        if self._on_status is not None:
            self._on_status(state)
        if new != old:
            if new == HealthStatus.UNHEALTHY:
                logger.warning("health check %s is unhealthy: %s", state.name, result.error)
            elif old == HealthStatus.UNHEALTHY:
                logger.info("health check %s recovered", state.name)
            for listener in list(self._listeners):
                try:
                    listener(state.name, old, new)
                except Exception:
                    logger.exception("health listener failed for %s", state.name)
