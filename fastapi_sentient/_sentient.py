"""The runtime handle: one per app, holding every subsystem and the lifespan.

``Sentient`` is what :func:`~fastapi_sentient.include_plugin` returns and what
routes reach through :data:`SentientDep`.  Its lifespan wraps the user's:
our resources start first (so they are usable inside the user's startup) and
close last, after in-flight requests have drained::

    components start (pools → cluster → LLM → resilience) → user lifespan enters → startup tasks
    → first health run → signals chained → RUNNING
    ... serving ...
    draining → in-flight drained → shutdown tasks → user lifespan exits
    → health loops stop → components stop in reverse → STOPPED
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from fastapi_sentient._component import Component
from fastapi_sentient._heap import freeze_heap
from fastapi_sentient._inflight import InFlight
from fastapi_sentient._lifecycle import Lifecycle
from fastapi_sentient._missing import MissingExtra
from fastapi_sentient._readiness import Readiness
from fastapi_sentient._redact import Redactor, install_log_redaction
from fastapi_sentient._route_label import RouteIndex
from fastapi_sentient._server import detect_port, server_name
from fastapi_sentient._signals import SignalDrain, find_server
from fastapi_sentient.cluster._node import default_node_id, serving_port
from fastapi_sentient.exceptions import MissingDependencyError, SentientError, StartupError
from fastapi_sentient.health._cgroup import Cgroup
from fastapi_sentient.health._registry import CheckState, HealthRegistry
from fastapi_sentient.health._system import CpuCheck, DiskCheck, LoopLagMonitor, MemoryCheck
from fastapi_sentient.metrics._container import ContainerCollector
from fastapi_sentient.metrics._http import HttpMetrics
from fastapi_sentient.metrics._registry import Metrics
from fastapi_sentient.settings import SentientSettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from fastapi_sentient._business_metrics import BusinessMetrics
    from fastapi_sentient._management import ManagementServer
    from fastapi_sentient.cluster import Coordinator
    from fastapi_sentient.llm._gateway import LLMGateway
    from fastapi_sentient.pools import PoolRegistry
    from fastapi_sentient.resilience._registry import ResilienceRegistry
    from fastapi_sentient.tracing import Tracing

logger = logging.getLogger("fastapi_sentient")

UserLifespan = Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]

_LIFECYCLE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Sentient:
    """Everything the plugin installed on one app."""

    def __init__(self, app: ASGIApp, settings: SentientSettings) -> None:
        self.app = app
        self.settings = settings
        self.redact = Redactor()
        _register_secrets(self.redact, settings)
        install_log_redaction(self.redact)
        self.metrics = Metrics(process_collectors=settings.process_metrics)
        self.inflight = InFlight()
        task_seconds = self.metrics.histogram(
            "lifecycle_task_duration_seconds",
            "Duration of startup and shutdown tasks.",
            ("phase", "task", "result"),
            buckets=_LIFECYCLE_BUCKETS,
        )
        self.lifecycle = Lifecycle(
            startup_timeout=settings.startup_timeout,
            shutdown_timeout=settings.shutdown_timeout,
            observe=lambda phase, task, result, seconds: task_seconds.labels(
                phase, task, result
            ).observe(seconds),
        )
        status_gauge = self.metrics.gauge(
            "health_check_status",
            "Latest reported status of each health check: 1 healthy, 0.5 degraded, 0 unhealthy.",
            ("checker", "type"),
            multiprocess_mode="liveall",
        )

        def publish(state: CheckState) -> None:
            status_gauge.labels(state.name, state.type).set(state.status.gauge_value)
            self.readiness.publish()

        self.node_id = default_node_id(settings.identity, settings.port)
        # the port this process serves on, once startup has found it (None: unknown)
        self.serving_port: int | None = settings.port
        self.health = HealthRegistry(
            default_timeout=settings.health_timeout,
            default_interval=settings.health_interval,
            fail_after=settings.health_fail_after,
            recover_after=settings.health_recover_after,
            metadata={
                "version": settings.version,
                "environment": settings.environment,
                "instanceId": self.node_id,
                "region": settings.region,
            },
            redactor=self.redact,
            on_status=publish,
        )
        self.readiness = Readiness(self.lifecycle, self.health, self.metrics)
        self.http_metrics = (
            HttpMetrics(self.metrics, self.inflight, settings.metrics_buckets)
            if settings.metrics_enabled
            else None
        )
        self.signal_drain = SignalDrain(
            self.lifecycle,
            delay=settings.shutdown_delay,
            drain_timeout=settings.drain_timeout,
            undo_after=settings.drain_undo_after,
            on_undo=self.readiness.publish,
        )
        self.management: ManagementServer | None = None
        self.loop_lag = LoopLagMonitor(settings.loop_lag_warning, settings.loop_lag_critical)
        self._mounts: RouteIndex | None = None
        self.components: list[Component] = []
        self.cgroup = Cgroup()
        if settings.system_checks:
            self._register_system_checks()
            if settings.process_metrics and not self.metrics.multiprocess:
                self.metrics.registry.register(ContainerCollector(self.cgroup))

        from fastapi_sentient.cluster._build import build_coordinator
        from fastapi_sentient.pools import PoolRegistry
        from fastapi_sentient.pools._build import build_pools
        from fastapi_sentient.pools._errors import install_error_handlers as pool_errors
        from fastapi_sentient.resilience._handlers import install_error_handlers as refusals
        from fastapi_sentient.resilience._registry import ResilienceRegistry
        from fastapi_sentient.tracing._build import build_tracing

        if settings.log_format == "json":
            from fastapi_sentient._logs import configure_json_logging

            configure_json_logging(service=settings.service_name, redact=self.redact)
        # Tracing starts first and stops last, so the last requests' spans are exported.
        self.tracing: Tracing | None = build_tracing(
            app,
            settings=settings.tracing,
            identity=settings.identity,
            endpoints=settings.endpoints,
            node_id=self.node_id,
            metrics=self.metrics,
            mounts=self.mounts,
        )
        if self.tracing is not None:
            self.components.append(self.tracing)
        # built before the pools and the LLM layer, which guard their calls with it;
        # started after them, since sharing breaker decisions needs the Redis pool
        self.resilience: ResilienceRegistry = ResilienceRegistry(
            metrics=self.metrics,
            health=self.health,
            lifecycle=self.lifecycle,
            redactor=self.redact,
            settings=settings.resilience,
            cluster_name=settings.cluster_name,
            node_id=lambda: self.node_id,
            redis=self._redis_client,  # read at start: the pools open first
            trace_events=self.tracing.spans.add_event if self.tracing is not None else None,
        )
        refusals(app, redactor=self.redact)
        self.pools: PoolRegistry = build_pools(
            PoolRegistry(
                metrics=self.metrics,
                health=self.health,
                lifecycle=self.lifecycle,
                redactor=self.redact,
                open_timeout=settings.startup_timeout,
                close_timeout=settings.shutdown_timeout,
                check_timeout=settings.health_timeout,
                check_fail_after=settings.health_fail_after,
            ),
            database=settings.database,
            redis=settings.redis,
            llm=settings.llm,
            http_clients=settings.resilience.http_clients,
            resilience=self.resilience,
            redactor=self.redact,
        )
        pool_errors(
            app, redactor=self.redact, database="db" in self.pools, redis="redis" in self.pools
        )
        self.cluster: Coordinator = build_coordinator(
            redis_url=settings.redis.url,
            redis_required=settings.redis.required,
            shutdown_timeout=settings.shutdown.shutdown_timeout,
            cluster=settings.cluster,
            identity=settings.identity,
            metrics=self.metrics,
            health=self.health,
            lifecycle=self.lifecycle,
            redactor=self.redact,
            node_id=lambda: self.node_id,
            port=lambda: serving_port(settings.port, self.serving_port),
            health_path=settings.endpoints.health_path,
        )
        self.components.extend([self.pools, self.cluster, self.resilience])
        if self.tracing is not None:  # pools' child spans once open; leadership events
            traced = self.tracing.follow(pools=self.pools, cluster=self.cluster)
            self.components.insert(self.components.index(self.pools) + 1, traced)
        self._llm: LLMGateway | None = None
        self._business: BusinessMetrics | None = None
        self._components_started = False
        if settings.llm_providers or settings.llm_routes:
            self._llm = self._build_llm()

    @property
    def llm(self) -> LLMGateway:
        """The LLM layer; built on first use when no provider is configured."""
        if self._llm is None:
            self._llm = self._build_llm()
        return self._llm

    def _build_llm(self) -> LLMGateway:
        # The LLM layer sends through httpx2 and prices with genai-prices (the ``llm``
        # extra); a service that configures no provider neither imports nor needs them.
        for module, package in (("httpx2", "httpx2"), ("genai_prices", "genai-prices")):
            if not _installed(module):
                if self.settings.llm_providers or self.settings.llm_routes:
                    raise MissingDependencyError(package, "llm")
                return cast("LLMGateway", MissingExtra(package, "llm"))
        from fastapi_sentient.llm._gateway import LLMGateway

        registry = LLMGateway(
            settings=self.settings.llm,
            metrics=self.metrics,
            health=self.health,
            lifecycle=self.lifecycle,
            redact=self.redact,
            pools=self.pools,  # the providers' HTTP pools: built before the LLM layer
            on_transition=self.resilience.transitioned,
            redis=self._redis_client,
            node_id=self.node_id,
            cluster_name=self.settings.cluster_name,
            health_timeout=self.settings.health_timeout,
        )
        if self._components_started:
            registry.started = True  # too late to add providers, as for any started registry
        else:  # after the pools and the cluster, before resilience (as listed above)
            self.components.insert(self.components.index(self.resilience), registry)
        return registry

    def _redis_client(self) -> Any:
        """The Redis pool's client once the pools are open (None without SENTIENT_REDIS_URL)."""
        if not self.settings.redis_url or "redis" not in self.pools:
            return None
        return getattr(self.pools.get("redis"), "client", None)

    @property
    def business(self) -> BusinessMetrics:
        """Domain metrics (auth attempts, sessions, revenue, …) with bounded labels."""
        if self._business is None:
            from fastapi_sentient._business_metrics import primed

            self._business = primed(self.metrics)
        return self._business

    def _resolve_node_id(self) -> None:
        """Find the serving port and fill it into the default node id."""
        if self.settings.port is not None:
            self.serving_port = self.settings.port
            return
        self.serving_port = detect_port(find_server(signal.getsignal(signal.SIGTERM)))
        if self.serving_port and self.settings.node_id is None:
            self.node_id = default_node_id(self.settings.identity, self.serving_port)
            self.health.metadata["instanceId"] = self.node_id

    def _register_system_checks(self) -> None:
        s = self.settings
        # CPU and loop lag are spiky: three bad runs in a row before they report it
        self.health.add(
            "cpu",
            CpuCheck(s.cpu_warning, s.cpu_critical, cgroup=self.cgroup),
            type="system",
            critical=False,
            fail_after=3,
        )
        self.health.add(
            "memory",
            MemoryCheck(s.memory_warning, s.memory_critical, cgroup=self.cgroup),
            type="system",
            critical=False,
        )
        self.health.add(
            "disk",
            DiskCheck(s.disk_path, s.disk_warning, s.disk_critical),
            type="system",
            critical=False,
            interval=max(s.health_interval, 30.0),
        )
        self.health.add("event_loop", self.loop_lag, type="system", critical=False, fail_after=3)

    def mounts(self) -> RouteIndex:
        """Templates of the app's parametrised mounts, built once routes are final."""
        if self._mounts is None:
            self._mounts = RouteIndex(self.app)
        return self._mounts

    # --- lifespan ---------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(
        self, app: Any, user_lifespan: UserLifespan
    ) -> AsyncIterator[dict[str, Any]]:
        """Our part of the app's lifespan, wrapped around the user's."""
        lifecycle = self.lifecycle
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._final_stop)
            self._mounts = None
            lifecycle.reset()
            self.signal_drain.reset()
            self._resolve_node_id()
            if self.management is not None:
                # first up, last down: probes and preStop are answered during startup and drain
                await self.management.start()
                stack.push_async_callback(self.management.stop)
            lifecycle.spawn(self.loop_lag.run(), "event-loop-lag")
            self._components_started = True
            stack.callback(setattr, self, "_components_started", False)
            try:
                for component in self.components:
                    await component.start()
                    stack.push_async_callback(self._stop_component, component)
            except SentientError as exc:
                lifecycle.fail(str(exc))
                raise
            except Exception as exc:
                msg = self.redact(f"{type(exc).__name__}: {exc}")
                lifecycle.fail(msg)
                raise StartupError(msg) from exc
            stack.push_async_callback(self.health.stop)
            user_state = await stack.enter_async_context(user_lifespan(app))
            await lifecycle.run_startup()
            # routes are final once startup ran; custom routes are named from the first request
            self._mounts = RouteIndex(self.app)
            await self.health.start(lambda coro, name: lifecycle.spawn(coro, name))
            if self.settings.handle_signals:
                if self.signal_drain.install():
                    stack.callback(self.signal_drain.uninstall)
                self._warn_unchained_sigterm()
            self._check_shutdown_budget()
            lifecycle.mark_running()
            self.readiness.publish()
            if self.settings.gc_freeze:
                freeze_heap()
            logger.info("%s ready (node %s)", self.settings.service_name, self.node_id)
            state = dict(user_state or {})
            state.setdefault("sentient", self)
            yield state
            await self._drain()

    async def _drain(self) -> None:
        self.lifecycle.begin_drain()
        left = await self.inflight.wait_idle(self.settings.drain_timeout)
        if left:
            logger.warning("drain timeout: %d request(s) still in flight", left)
        await self.lifecycle.run_shutdown()

    async def _stop_component(self, component: Component) -> None:
        try:
            await component.stop()
        except Exception:
            logger.exception("stopping %s failed", component.name)

    async def _final_stop(self) -> None:
        await self.lifecycle.stop_background()
        self.lifecycle.mark_stopped()
        self.readiness.publish()

    def _warn_unchained_sigterm(self) -> None:
        if self.signal_drain.chained_sigterm or self.settings.shutdown_delay <= 0:
            return
        logger.warning(
            "SIGTERM does not reach the app before %s shuts down (its signal handling is out "
            "of the app's reach in this process): readiness will not turn 503 on SIGTERM and "
            "SENTIENT_SHUTDOWN_DELAY=%gs cannot be kept; drain from a preStop hook instead "
            "(docs/shutdown.md, 'preStop recipe')",
            server_name(),
            self.settings.shutdown_delay,
        )

    def _check_shutdown_budget(self) -> None:
        s = self.settings
        server = self.signal_drain.server
        if server is not None:
            config = server.config
            if config.timeout_graceful_shutdown is None:
                # uvicorn would otherwise wait forever and the pod would be SIGKILLed,
                # losing shutdown tasks; bound it by our drain timeout.
                config.timeout_graceful_shutdown = s.drain_timeout
                logger.warning(
                    "uvicorn has no --timeout-graceful-shutdown; using SENTIENT_DRAIN_TIMEOUT=%gs",
                    s.drain_timeout,
                )
        budget = s.shutdown_delay + s.drain_timeout + self.lifecycle.shutdown_budget
        if s.termination_grace_period is not None and budget > s.termination_grace_period:
            msg = (
                f"shutdown budget {budget:g}s (delay {s.shutdown_delay:g} + drain "
                f"{s.drain_timeout:g} + tasks {self.lifecycle.shutdown_budget:g}) exceeds "
                f"SENTIENT_TERMINATION_GRACE_PERIOD={s.termination_grace_period:g}s"
            )
            logger.warning(msg)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules has no spec
        return False


def _register_secrets(redact: Redactor, settings: SentientSettings) -> None:
    """Every secret the settings hold, registered before anything can log or show it."""
    redact.add(settings.health_token.get_secret_value() if settings.health_token else None)
    redact.add_url(settings.database_url)
    redact.add_url(settings.redis_url)
    from fastapi_sentient.llm._adapters import KEY_VARIABLES

    for name in KEY_VARIABLES.values():
        redact.add(os.environ.get(name))
    for provider in settings.llm_providers.values():
        redact.add(provider.api_key.get_secret_value() if provider.api_key else None)
        redact.add_url(provider.base_url)
        for value in provider.headers.values():
            redact.add(value)  # header values are secrets by construction
    for client in settings.http_clients.values():
        redact.add_url(client.base_url)
        for value in client.headers.values():
            redact.add(value)
        for variable in client.secret_headers.values():
            redact.add(os.environ.get(variable))


def get_sentient(source: HTTPConnection | Any) -> Sentient:
    """The handle of the app serving ``source`` (a Request, WebSocket or the app itself)."""
    app = getattr(source, "app", source)
    state = getattr(app, "state", None)
    sentient = getattr(state, "sentient", None) if state is not None else None
    if not isinstance(sentient, Sentient):
        msg = "fastapi_sentient is not installed on this app; call include_plugin(app) first"
        raise LookupError(msg)
    return sentient


def _sentient_dependency(connection: HTTPConnection) -> Sentient:
    return get_sentient(connection)


SentientDep = Annotated[Sentient, Depends(_sentient_dependency)]
"""Route parameter type that receives the app's :class:`Sentient`."""
