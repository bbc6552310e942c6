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

The provider is a :class:`SentientTracerProvider`: it knows whether its spans
may take the request-span path (:mod:`fastapi_sentient.tracing._request_span`)
— only while its sampler is the parent-based ratio built here and nobody has
added a span processor of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from fastapi_sentient._version import __version__
from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.tracing._queue import SpanQueue
from fastapi_sentient.tracing._request_span import RequestSpans, Sink

if TYPE_CHECKING:
    from fastapi_sentient._settings_groups import IdentitySettings


def build_resource(identity: IdentitySettings, instance_id: str) -> Resource:
    """Our identity attributes, overridden by ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME``."""
    attributes: dict[str, str] = {
        "service.name": identity.service_name,
        "service.version": identity.version,
        "service.instance.id": instance_id,
        "deployment.environment.name": identity.environment,
    }
    if identity.region:
        attributes["cloud.region"] = identity.region
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


#: The instrumentation scope of our server spans.
SCOPE_NAME = "fastapi_sentient"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"


class SentientTracerProvider(TracerProvider):
    """The SDK's provider, plus the request spans it allows while it is left as we built it."""

    def __init__(self, *, sample_ratio: float, resource: Resource) -> None:
        sampler = build_sampler(sample_ratio)
        self.span_limits = SpanLimits()
        super().__init__(
            sampler=sampler,
            resource=resource,
            span_limits=self.span_limits,
            shutdown_on_exit=False,  # our lifespan shuts it down, after the last request
        )
        self.sample_ratio = sample_ratio if sampler is not None else None
        self.foreign_processors = False
        #: Set by :meth:`use_request_spans`; None while spans must come from the SDK.
        self.request_spans: RequestSpans | None = None

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Add a processor; one that is not our export queue must see every span."""
        if not isinstance(span_processor, SpanQueue):
            self.foreign_processors = True
            self.request_spans = None
        super().add_span_processor(span_processor)

    def use_request_spans(self, sink: Sink | None) -> bool:
        """Make request spans that end in ``sink``, if nothing here needs the SDK's spans."""
        internal_metrics = os.environ.get("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "")
        if (
            self.sample_ratio is None
            or self.foreign_processors
            or not isinstance(self.id_generator, RandomIdGenerator)
            or internal_metrics.strip().lower() == "true"
        ):
            self.request_spans = None
            return False
        self.request_spans = RequestSpans(
            ratio=self.sample_ratio,
            resource=self.resource,
            limits=self.span_limits,
            scope=InstrumentationScope(SCOPE_NAME, __version__, SCHEMA_URL, None),
            random_ids=True,
            sink=sink,
        )
        return True


def build_provider(
    identity: IdentitySettings, sample_ratio: float, instance_id: str
) -> SentientTracerProvider:
    """A provider without exporters; :func:`build_processors` adds them at startup."""
    return SentientTracerProvider(
        sample_ratio=sample_ratio, resource=build_resource(identity, instance_id)
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
            from fastapi_sentient.tracing._encoder import FastOTLPSpanExporter

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


def build_processors(
    *, fast_encoder: bool = True, on_drop: Callable[[int], None] | None = None
) -> list[SpanProcessor]:
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
            processors.append(SpanQueue(_otlp_exporter(fast_encoder), on_drop=on_drop))
        elif name == "console":
            processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            msg = (
                f"OTEL_TRACES_EXPORTER={raw.strip()!r} is not supported; use otlp, console or none"
            )
            raise ConfigurationError(msg)
    return processors
