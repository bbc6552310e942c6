"""``include_plugin(app)``: the one public way in.

FastAPI has no plugin hook, so installing means three careful edits of the app:

* the middleware stack is wrapped so our tracking middleware sits *outside*
  Starlette's ``ServerErrorMiddleware`` (the way OpenTelemetry's instrumentor
  does it): our probes answer even when the app's own middleware misbehaves,
  and errors the app turns into 500s are counted as 500s;
* the router's lifespan is wrapped, ours outermost, the user's lifespan (or
  ``on_startup`` handlers) still running inside it with its state preserved;
* the handle is stored on ``app.state.sentient`` and in lifespan state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from fastapi_sentient._lifecycle import LifecycleState
from fastapi_sentient._logs import RequestIdMiddleware
from fastapi_sentient._middleware import RequestTrackingMiddleware
from fastapi_sentient._sentient import Sentient
from fastapi_sentient.exceptions import ConfigurationError, MissingDependencyError
from fastapi_sentient.health._endpoints import (
    DrainEndpoint,
    HealthEndpoint,
    LiveEndpoint,
    ReadyEndpoint,
)
from fastapi_sentient.metrics._exposition import MetricsEndpoint
from fastapi_sentient.settings import SentientSettings, load_settings


def include_plugin(app: FastAPI, settings: SentientSettings | None = None) -> Sentient:
    """Install metrics, probes, draining, pools, clustering and the LLM layer on ``app``.

    Args:
        app: the FastAPI (or Starlette) application, before it has started.
        settings: explicit settings; by default they are read from ``SENTIENT_*``
            variables.

    Returns:
        The :class:`Sentient` handle (also at ``app.state.sentient``).

    Raises:
        ConfigurationError: the plugin is already installed on this app, or the
            app has already started; with explicit ``settings``, also when they
            describe something that cannot be built (an LLM route naming an
            unknown provider, a malformed Redis URL).
        MissingDependencyError: with explicit ``settings``, a configured feature
            needs an extra that is not installed (the message names it).
        SystemExit: with settings read from the environment, for either of the
            two previous reasons and for any invalid ``SENTIENT_*`` value: one line
            naming the variable or the extra to install, so a crash-looping pod's
            last log line says what to fix.  Nothing is installed on ``app``.
    """
    if getattr(app.state, "sentient", None) is not None:
        msg = "include_plugin(app) was already called on this app; call it once"
        raise ConfigurationError(msg)
    if getattr(app, "middleware_stack", None) is not None:
        msg = "include_plugin(app) must be called before the app starts serving"
        raise ConfigurationError(msg)
    from_environment = settings is None
    try:
        if settings is None:
            settings = load_settings()
        sentient = Sentient(app, settings)
    except (ConfigurationError, MissingDependencyError) as exc:
        if not from_environment:
            raise
        # a crash-looping pod's last log line must say what to fix, without a traceback
        line = f"fastapi_sentient: {exc}"
        raise SystemExit(line) from None
    app.state.sentient = sentient
    _wrap_lifespan(app, sentient)
    _wrap_middleware_stack(app, sentient)
    _install_management(sentient)
    return sentient


def _endpoints(sentient: Sentient, *, management: bool = False) -> dict[str, ASGIApp]:
    """Our endpoints on the app port, or (``management``) on the management port.

    With a management port, ``/metrics`` and ``/drain`` are served there only;
    the probes and ``/health`` are served on both.
    """
    s = sentient.settings.endpoints
    endpoints: dict[str, ASGIApp] = {
        s.live_path: LiveEndpoint(sentient.lifecycle),
        s.ready_path: ReadyEndpoint(sentient.readiness),
        s.health_path: HealthEndpoint(
            health=sentient.health,
            lifecycle=sentient.lifecycle,
            inflight=sentient.inflight,
            identity=sentient.settings.identity,
            node_id=lambda: sentient.node_id,
            details=s.health_details,
            token=s.health_token,
        ),
    }
    separate = s.management_port is not None
    if management or not separate:
        if sentient.settings.metrics.enabled:
            endpoints[s.metrics_path] = MetricsEndpoint(sentient.metrics)
        if s.drain_endpoint:
            endpoints[s.drain_path] = DrainEndpoint(
                drain=sentient.signal_drain.drain_now,
                inflight=sentient.inflight,
                undo_after=s.drain_undo_after,
                token=s.health_token,
                require_token=not management,
            )
    return endpoints


def _install_management(sentient: Sentient) -> None:
    s = sentient.settings
    if s.management_port is None:
        return
    import importlib.util

    if importlib.util.find_spec("uvicorn") is None:
        msg = (
            "SENTIENT_MANAGEMENT_PORT needs uvicorn (the management listener is a uvicorn "
            "server): pip install uvicorn"
        )
        raise ConfigurationError(msg)
    from fastapi_sentient._management import ManagementServer

    sentient.management = ManagementServer(
        _endpoints(sentient, management=True), host=s.management_host, port=s.management_port
    )


def _startup_error(sentient: Sentient) -> Callable[[], str | None]:
    lifecycle = sentient.lifecycle

    def reason() -> str | None:
        if lifecycle.state == LifecycleState.ERROR and lifecycle.error:
            return f"fastapi_sentient: {lifecycle.error}"
        return None

    return reason


def _wrap_middleware_stack(app: FastAPI, sentient: Sentient) -> None:
    build_inner = app.build_middleware_stack
    settings = sentient.settings

    def build_middleware_stack() -> ASGIApp:
        inner = build_inner()
        tracking = RequestTrackingMiddleware
        request_ids = settings.request_ids
        if request_ids or (request_ids is None and settings.log_format == "json"):
            inner = RequestIdMiddleware(inner, settings.request_id_header)
        if sentient.tracing is not None:
            # Inside ours: probes and /metrics are answered before any span starts.
            inner = sentient.tracing.middleware(inner)
            tracking = sentient.tracing.tracking_middleware()
        return tracking(
            inner,
            inflight=sentient.inflight,
            drain=sentient.lifecycle,
            endpoints=_endpoints(sentient),
            excluded=settings.endpoint_paths() | frozenset(settings.metrics_exclude_paths),
            http_metrics=sentient.http_metrics,
            mounts=sentient.mounts,
            startup_error=_startup_error(sentient),
        )

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def _wrap_lifespan(app: FastAPI, sentient: Sentient) -> None:
    user_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(lifespan_app: Any) -> AsyncIterator[Mapping[str, Any]]:
        async with sentient.lifespan(lifespan_app, user_lifespan) as state:
            yield state

    app.router.lifespan_context = lifespan
