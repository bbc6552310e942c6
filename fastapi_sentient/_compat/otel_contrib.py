"""OpenTelemetry contrib instrumentation internals (opentelemetry-instrumentation, -asgi, -fastapi).

With ``SENTIENT_TRACING_INSTRUMENTATION=opentelemetry`` we run the ASGI
instrumentation's own middleware, tuned to emit the stable HTTP semantic
conventions whatever ``OTEL_SEMCONV_STABILITY_OPT_IN`` says for the rest of
the process.  The instrumentation reads that choice once per process, in
``opentelemetry.instrumentation._semconv``, and copies it onto each middleware
as ``_sem_conv_opt_in_mode``; no public API selects it for one middleware.
Separately, ``FastAPIInstrumentor`` marks the apps it instrumented with
``_is_instrumented_by_opentelemetry`` (its own test for "already
instrumented"), which we read to avoid a second server span per request.
"""

from __future__ import annotations

from typing import Any

from fastapi_sentient._compat import missing, read

__all__ = ["instrumented_by_fastapi_instrumentor", "stable_http_schema_url", "use_stable_http"]

_INSTRUMENTATION = "opentelemetry-instrumentation"
_ASGI = "opentelemetry-instrumentation-asgi"


def _semconv() -> Any:
    try:
        from opentelemetry.instrumentation import _semconv
    except ImportError:
        raise missing(_INSTRUMENTATION, "_semconv", "the stable HTTP conventions") from None
    for name in ("_StabilityMode", "_report_new", "_get_schema_url"):
        read(_semconv, name, _INSTRUMENTATION, "the stable HTTP conventions")
    return _semconv


def stable_http_schema_url() -> str:
    """The schema URL of the stable HTTP conventions (``_semconv._get_schema_url``)."""
    semconv = _semconv()
    url: str = semconv._get_schema_url(semconv._StabilityMode.HTTP)
    return url


def use_stable_http(middleware: Any) -> None:
    """Make an ``OpenTelemetryMiddleware`` emit the stable HTTP conventions (``_sem_conv_opt_in_mode``).

    An operator's ``http/dup`` (old and new conventions) is kept.
    """
    semconv = _semconv()
    mode = read(middleware, "_sem_conv_opt_in_mode", _ASGI, "the stable HTTP conventions")
    if not semconv._report_new(mode):
        middleware._sem_conv_opt_in_mode = semconv._StabilityMode.HTTP


def instrumented_by_fastapi_instrumentor(app: Any) -> bool:
    """Whether ``FastAPIInstrumentor`` instrumented ``app`` (its ``_is_instrumented_by_opentelemetry``).

    The instrumentor sets the flag only on apps it has seen, so its absence means "no".
    """
    return bool(getattr(app, "_is_instrumented_by_opentelemetry", False))
