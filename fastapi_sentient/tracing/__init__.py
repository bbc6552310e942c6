"""OpenTelemetry tracing: one server span per request, child spans, exemplars.

``SENTIENT_TRACING_ENABLED=true`` turns it on; the standard ``OTEL_*``
variables configure the exporter, sampler and resource.  See ``docs/tracing.md``.

The helpers :func:`llm_span`, :func:`start_llm_span` and :func:`add_event` are importable without the
``tracing`` extra and do nothing while tracing is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi_sentient.tracing._spans import LLMSpan, active, add_event, llm_span, start_llm_span

if TYPE_CHECKING:
    from fastapi_sentient.tracing._component import Tracing

__all__ = [
    "LLMSpan",
    "Tracing",
    "active",
    "add_event",
    "llm_span",
    "start_llm_span",
]


def __getattr__(name: str) -> Any:
    # The component imports the SDK; load it only when someone asks for it.
    if name == "Tracing":
        from fastapi_sentient.tracing._component import Tracing

        return Tracing
    raise AttributeError(name)
