"""The Prometheus text format, rendered with a cache of label strings.

prometheus_client's ``generate_latest`` re-validates and re-escapes every label
name and value of every sample on every scrape; on a large registry that is
most of the render.  The label part of a sample line only changes when
a new series appears, so we render it once and keep it.  The output is the same
bytes as ``generate_latest`` (a test compares them), and anything unusual — a
metric or label name outside the legacy character set — falls back to the
library's encoder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, cast

from prometheus_client import utils
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from fastapi_sentient.metrics._label_prefix import LabelPrefixes

# The legacy character sets of the text format (names outside them need the
# library's escaping, so we fall back).
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_go_float = cast("Callable[[float], str]", utils.floatToGoString)

_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}
_OM_SUFFIXES = ("_created", "_gsum", "_gcount")


class _Fallback(Exception):
    """A name needs the library's escaping rules."""


def _doc(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


class TextEncoder:
    """Renders a registry in the Prometheus text format, reusing label strings across scrapes."""

    def __init__(self) -> None:
        self._prefix = LabelPrefixes(_METRIC_NAME, _Fallback).get

    def _line(self, sample: Any) -> str:
        line = self._prefix(sample.name, sample.labels) + _go_float(sample.value)
        if sample.timestamp is not None:
            line += f" {int(float(sample.timestamp) * 1000):d}"
        return line + "\n"

    def _family(self, metric: Any, output: list[str]) -> None:
        name, kind = metric.name, metric.type
        if kind == "counter":
            shown = name + "_total"
        elif kind == "info":
            shown = name + "_info"
        else:
            shown = name
        if not _METRIC_NAME.match(shown):
            raise _Fallback
        doc = _doc(metric.documentation)
        output.append(f"# HELP {shown} {doc}\n# TYPE {shown} {_TYPES.get(kind, kind)}\n")
        extra: dict[str, list[str]] = {}
        for sample in metric.samples:
            suffix = next((s for s in _OM_SUFFIXES if sample.name == name + s), None)
            if suffix is None:
                output.append(self._line(sample))
            else:
                extra.setdefault(suffix, []).append(self._line(sample))
        for suffix, lines in sorted(extra.items()):
            output.append(f"# HELP {name}{suffix} {doc}\n# TYPE {name}{suffix} gauge\n")
            output.extend(lines)

    def render(self, registry: Collector) -> bytes:
        """The text exposition of ``registry``; identical to ``generate_latest``."""
        families: Iterable[Any] = list(registry.collect())
        output: list[str] = []
        try:
            for metric in families:
                self._family(metric, output)
        except _Fallback:
            return generate_latest(registry)
        return "".join(output).encode("utf-8")
