"""The tracing component the settings ask for, on our tracer provider or the user's.

Tracing stays off (and the SDK unimported) unless ``SENTIENT_TRACING_ENABLED`` is set;
a tracer provider the application installed itself is used as it is, never replaced.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi_sentient._compat import fastapi as fastapi_compat
from fastapi_sentient._compat import otel_contrib
from fastapi_sentient.exceptions import MissingDependencyError

if TYPE_CHECKING:
    from fastapi_sentient._route_label import RouteIndex
    from fastapi_sentient._settings_groups import (
        EndpointSettings,
        IdentitySettings,
        TracingSettings,
    )
    from fastapi_sentient.metrics._registry import Metrics
    from fastapi_sentient.tracing._component import Tracing

logger = logging.getLogger("fastapi_sentient.tracing")

_OURS: weakref.WeakSet[Any] = weakref.WeakSet()


def build_tracing(
    app: Any,
    *,
    settings: TracingSettings,
    identity: IdentitySettings,
    endpoints: EndpointSettings,
    node_id: str,
    metrics: Metrics,
    mounts: Callable[[], RouteIndex],
) -> Tracing | None:
    """The tracing component, or None when tracing is off (or ``OTEL_SDK_DISABLED=true``).

    ``node_id`` is the resource's ``service.instance.id``; ``mounts`` gives the
    app's route index (span names), read per request.
    """
    if not settings.enabled:
        return None
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        logger.info("tracing is off: OTEL_SDK_DISABLED=true")
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        from fastapi_sentient.tracing._component import Tracing
        from fastapi_sentient.tracing._provider import build_provider
    except ImportError as exc:
        package, extra = "opentelemetry-sdk", "tracing"
        raise MissingDependencyError(package, extra) from exc

    parts: dict[str, Any] = {
        "settings": settings,
        "metrics": metrics,
        "mounts": mounts,
        "endpoint_paths": endpoints.endpoint_paths(),
    }
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider) and current not in _OURS:
        tracing = Tracing(current, owned=False, **parts)
    else:
        provider = build_provider(identity, settings.sample_ratio, node_id)
        _OURS.add(provider)
        tracing = Tracing(provider, owned=True, **parts)

    if otel_contrib.instrumented_by_fastapi_instrumentor(app):
        # FastAPIInstrumentor already makes the server spans; a second one would
        # nest every request in itself.
        logger.info("the app is instrumented by opentelemetry-instrumentation-fastapi already")
        tracing.server_spans = False
    if tracing.server_spans:
        # FastAPI's own request spans start once a global provider exists; ours
        # carry the same attributes, so one server span per request stays one.
        fastapi_compat.turn_off_native_tracing(app)
    return tracing
