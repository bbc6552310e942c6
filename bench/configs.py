"""The benchmarked configurations: which app module, what it is, how to check it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["baseline", "ours", "peer", "reference"]


@dataclass(frozen=True)
class Config:
    """One configuration of the benchmark route."""

    name: str
    module: str
    label: str
    role: Role
    traces: bool = False
    """Needs the OTLP sink, and must prove a span is recording before it is measured."""

    @property
    def target(self) -> str:
        """The ``module:attr`` uvicorn serves."""
        return f"{self.module}:app"

    def describe(self) -> str:
        """The app module's docstring (read without importing it), as one paragraph."""
        path = Path(__file__).parent.parent.joinpath(*self.module.split(".")).with_suffix(".py")
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        return " ".join(doc.split())


CONFIGS: tuple[Config, ...] = (
    Config("bare", "bench.apps.bare", "bare FastAPI", "baseline"),
    Config("ours", "bench.apps.ours", "fastapi_sentient (default install)", "ours"),
    Config(
        "ours_tracing",
        "bench.apps.ours_tracing",
        "fastapi_sentient + tracing (100 % sampled)",
        "ours",
        traces=True,
    ),
    Config(
        "ours_tracing_noop",
        "bench.apps.ours_tracing_noop",
        "fastapi_sentient + tracing (100 %), no span processor",
        "reference",
        traces=True,
    ),
    Config(
        "ours_tracing_contrib",
        "bench.apps.ours_tracing_contrib",
        "fastapi_sentient + tracing via OpenTelemetry's instrumentation (100 % sampled)",
        "ours",
        traces=True,
    ),
    Config("pfi", "bench.apps.pfi", "prometheus-fastapi-instrumentator", "peer"),
    Config("starlette_exporter", "bench.apps.starlette_exporter", "starlette-exporter", "peer"),
    Config("otel", "bench.apps.otel", "OpenTelemetry FastAPI instrumentation", "peer", traces=True),
    Config(
        "otel_traces",
        "bench.apps.otel_traces",
        "OpenTelemetry FastAPI instrumentation, traces only",
        "peer",
        traces=True,
    ),
    Config("minimal", "bench.apps.minimal", "minimal pure-ASGI counter + histogram", "reference"),
    Config(
        "otel_sdk_span",
        "bench.apps.otel_sdk_span",
        "one bare OpenTelemetry SDK span per request",
        "reference",
        traces=True,
    ),
)

BY_NAME = {config.name: config for config in CONFIGS}


def select(names: list[str] | None) -> list[Config]:
    """The named configurations in canonical order; ``bare`` is always included."""
    if not names:
        return list(CONFIGS)
    unknown = sorted(set(names) - BY_NAME.keys())
    if unknown:
        known = ", ".join(BY_NAME)
        raise SystemExit(f"unknown configuration(s) {', '.join(unknown)}; known: {known}")
    wanted = {"bare", *names}
    return [config for config in CONFIGS if config.name in wanted]
