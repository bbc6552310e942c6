"""The tracer provider: resource, sampler and exporter from settings and ``OTEL_*``.

The standard OpenTelemetry variables win over our settings, because operators
set them once for every service in a cluster: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` over ``SENTIENT_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``
over ``SENTIENT_TRACING_SAMPLE_RATIO``, and the exporter reads
``OTEL_EXPORTER_OTLP_*`` itself.

The provider is built when the plugin is installed (the middleware needs a
tracer before the first request), but the exporter and its batching thread
only when the app starts: a process forked after import (gunicorn ``--preload``)
then exports from the worker, and a bad exporter setting stops startup with
one line instead of a traceback at import.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from fastapi_sentient.exceptions import ConfigurationError

if TYPE_CHECKING:
    from fastapi_sentient.settings import SentientSettings


def build_resource(settings: SentientSettings, instance_id: str) -> Resource:
    """Our identity attributes, overridden by ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME``."""
    attributes: dict[str, str] = {
        "service.name": settings.service_name,
        "service.version": settings.version,
        "service.instance.id": instance_id,
        "deployment.environment.name": settings.environment,
    }
    if settings.region:
        attributes["cloud.region"] = settings.region
    # create() adds the SDK's own attributes; the detector re-applies the operator's.
    return Resource.create(attributes).merge(OTELResourceDetector().detect())


def build_sampler(ratio: float) -> Sampler | None:
    """Parent-based ratio sampling; ``None`` lets the SDK read ``OTEL_TRACES_SAMPLER``."""
    if os.environ.get("OTEL_TRACES_SAMPLER", "").strip():
        return None
    if ratio >= 1.0:
        root: Sampler = ALWAYS_ON
    elif ratio <= 0.0:
        root = ALWAYS_OFF
    else:
        root = TraceIdRatioBased(ratio)
    return ParentBased(root)


def build_provider(settings: SentientSettings, instance_id: str) -> TracerProvider:
    """A provider without exporters; :func:`build_processors` adds them at startup."""
    return TracerProvider(
        sampler=build_sampler(settings.tracing_sample_ratio),
        resource=build_resource(settings, instance_id),
        shutdown_on_exit=False,  # our lifespan shuts it down, after the last request
    )


def _protocol() -> str:
    value = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    return value.strip().lower()


def _otlp_exporter(fast_encoder: bool) -> SpanExporter:
    protocol = _protocol()
    if protocol == "http/protobuf":
        if fast_encoder:
            from fastapi_sentient.tracing.encoder import FastOTLPSpanExporter

            return FastOTLPSpanExporter()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            msg = (
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc; "
                "install it or use http/protobuf"
            )
            raise ConfigurationError(msg) from None
        exporter: SpanExporter = GrpcExporter()
        return exporter
    msg = (
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported for traces; "
        "use http/protobuf or grpc"
    )
    raise ConfigurationError(msg)


def build_processors(*, fast_encoder: bool = True) -> list[SpanProcessor]:
    """Span processors for ``OTEL_TRACES_EXPORTER`` (``otlp`` by default, ``console``, ``none``).

    Raises:
        ConfigurationError: an unknown exporter or OTLP protocol, in one line.
    """
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    processors: list[SpanProcessor] = []
    for raw in names.split(","):
        name = raw.strip().lower()
        if name in ("", "none"):
            continue
        if name == "otlp":
            processors.append(BatchSpanProcessor(_otlp_exporter(fast_encoder)))
        elif name == "console":
            processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            msg = (
                f"OTEL_TRACES_EXPORTER={raw.strip()!r} is not supported; use otlp, console or none"
            )
            raise ConfigurationError(msg)
    return processors
