"""One metrics registry per plugin instance, with a recording API by metric name.

A registry of our own (never prometheus_client's global ``REGISTRY``) means two
apps in one process, or a test suite building fifty apps, never hit
"Duplicated timeseries".  Instruments are get-or-create: asking twice for the
same name with the same shape returns the same object; a different shape is a
clear error instead of a silent second series.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    multiprocess,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from fastapi_sentient.exceptions import ConfigurationError

Kind = Literal["counter", "gauge", "histogram", "summary"]
Metric = Counter | Gauge | Histogram | Summary

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

#: Request-duration buckets: the OpenTelemetry HTTP defaults plus the long tail of
#: agent routes (tool loops and streamed generations run for many seconds).
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One entry of :meth:`Metrics.record_batch`: which instrument, how and with what labels."""

    type: Kind
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


def multiprocess_dir() -> str | None:
    """The directory of prometheus_client's multiprocess mode, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Instruments of one plugin instance, registered in its own CollectorRegistry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        process_collectors: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        self._metrics: dict[str, tuple[Kind, tuple[str, ...], Metric]] = {}
        if process_collectors and not self.multiprocess:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    # --- get-or-create --------------------------------------------------------------------

    def _get_or_create(
        self, kind: Kind, name: str, documentation: str, labelnames: Sequence[str], **kw: Any
    ) -> Metric:
        labels = tuple(labelnames)
        existing = self._metrics.get(name)
        if existing is not None:
            if existing[0] != kind or existing[1] != labels:
                msg = (
                    f"metric {name!r} already exists as a {existing[0]} with labels "
                    f"{list(existing[1])}; asked for a {kind} with {list(labels)}"
                )
                raise ConfigurationError(msg)
            return existing[2]
        if not _NAME.match(name):
            msg = f"invalid metric name {name!r}"
            raise ConfigurationError(msg)
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__"):
                msg = f"invalid label name {label!r} on metric {name!r}"
                raise ConfigurationError(msg)
        factory = {"counter": Counter, "gauge": Gauge, "histogram": Histogram, "summary": Summary}
        metric: Metric = factory[kind](
            name, documentation, labelnames=labels, registry=self.registry, **kw
        )
        self._metrics[name] = (kind, labels, metric)
        return metric

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        """A counter; ``name`` without the ``_total`` suffix, which exposition adds."""
        metric = self._get_or_create(
            "counter", name.removesuffix("_total"), documentation, labelnames
        )
        assert isinstance(metric, Counter)
        return metric

    def gauge(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        multiprocess_mode: str = "livesum",
    ) -> Gauge:
        """A gauge; in multiprocess mode live processes' values are summed by default."""
        metric = self._get_or_create(
            "gauge", name, documentation, labelnames, multiprocess_mode=multiprocess_mode
        )
        assert isinstance(metric, Gauge)
        return metric

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        """A histogram with explicit buckets (default 5 ms … 300 s)."""
        metric = self._get_or_create(
            "histogram", name, documentation, labelnames, buckets=tuple(buckets)
        )
        assert isinstance(metric, Histogram)
        return metric

    def summary(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Summary:
        """A summary (count and sum; prometheus_client computes no quantiles)."""
        metric = self._get_or_create("summary", name, documentation, labelnames)
        assert isinstance(metric, Summary)
        return metric

    def get(self, name: str) -> Metric:
        """A registered instrument by name (``KeyError`` when absent)."""
        return self._metrics[name.removesuffix("_total")][2]

    def unregister(self, name: str) -> None:
        """Remove an instrument and its series."""
        entry = self._metrics.pop(name.removesuffix("_total"), None)
        if entry is not None:
            self.registry.unregister(entry[2])

    # --- recording by metric name ---------------------------------------------------------

    def _child(self, name: str, labels: dict[str, str] | None) -> Any:
        _kind, labelnames, metric = self._metrics[name.removesuffix("_total")]
        given = labels or {}
        if set(given) != set(labelnames):
            msg = f"metric {name!r} takes labels {list(labelnames)}, got {sorted(given)}"
            raise ConfigurationError(msg)
        return metric.labels(**given) if labelnames else metric

    def inc(self, name: str, value: float = 1.0, labels: dict[str, str] | None = None) -> None:
        """Increment a registered counter (or gauge)."""
        self._child(name, labels).inc(value)

    def set(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        """Set a registered gauge."""
        self._child(name, labels).set(value)

    def observe(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        """Observe a value on a registered histogram or summary."""
        self._child(name, labels).observe(value)

    def record_batch(self, samples: Iterable[MetricSample]) -> None:
        """Record many samples at once; every sample is validated before any is applied."""
        batch = list(samples)
        children = []
        for sample in batch:
            kind = self._metrics.get(sample.name.removesuffix("_total"))
            if kind is None:
                msg = f"unknown metric {sample.name!r} in batch"
                raise ConfigurationError(msg)
            if kind[0] != sample.type:
                msg = f"metric {sample.name!r} is a {kind[0]}, not a {sample.type}"
                raise ConfigurationError(msg)
            children.append((sample, self._child(sample.name, sample.labels)))
        for sample, child in children:
            if sample.type == "counter":
                child.inc(sample.value)
            elif sample.type == "gauge":
                child.set(sample.value)
            else:
                child.observe(sample.value)

    # --- export ---------------------------------------------------------------------------

    def collection_registry(self) -> CollectorRegistry:
        """What ``/metrics`` exposes: ours, or all workers' when multiprocess mode is on."""
        if not self.multiprocess:
            return self.registry
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry

    def export_json(self) -> dict[str, Any]:
        """Every family with its samples as JSON-ready data, for consumers that do not scrape."""
        families = []
        for family in self.collection_registry().collect():
            families.append(
                {
                    "name": family.name,
                    "type": family.type,
                    "help": family.documentation,
                    "samples": [
                        {"name": s.name, "labels": dict(s.labels), "value": s.value}
                        for s in family.samples
                    ],
                }
            )
        return {"metrics": families}
