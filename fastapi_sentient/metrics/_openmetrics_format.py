"""The OpenMetrics text format, rendered straight from the instruments' values.

Prometheus asks for OpenMetrics by default.  prometheus_client renders it in
two passes that allocate for every sample: ``collect()`` builds a label
dictionary and a ``Sample`` for every line, then the encoder re-escapes and
re-formats every label.  On a large registry that is most of the scrape's
time, and enough garbage to set off full collections.

This encoder reads the values of prometheus_client's own ``Counter``,
``Gauge``, ``Histogram`` and ``Summary`` children directly and keeps the label
part of every line (``name{a="1",le="0.5"} ``) from one scrape to the next: a
scrape formats numbers and joins strings.  Every other collector (process,
platform, GC, multiprocess, a user's custom one) goes through its ``collect()``
with the same cached label strings.  The output is the same bytes as
prometheus_client's ``openmetrics.exposition.generate_latest`` (a test compares
them for every metric type); anything it does not expect — a name outside the
legacy character set, a native histogram, a misplaced exemplar — makes the
whole scrape fall back to the library's encoder.

:meth:`OpenMetricsEncoder.chunks` yields the exposition a piece at a time, so
the endpoint can render on the event loop and let other requests run between
pieces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from prometheus_client import Counter, Gauge, Histogram, Summary, utils
from prometheus_client.registry import Collector

from fastapi_sentient._compat import prometheus as client_internals
from fastapi_sentient.metrics._label_prefix import MAX_CACHED, LabelPrefixes, escape_value

# Names the library writes unchanged under every escaping scheme (no ``:``, which
# the underscores scheme rewrites in sample names but not in ``# HELP``).
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_go_float = cast("Callable[[float], str]", utils.floatToGoString)
#: Children rendered between two yields of :meth:`OpenMetricsEncoder.chunks`: a histogram
#: child is a couple of dozen lines, so a piece stays well inside the endpoint's slice.
CHUNK_CHILDREN = 2


class Fallback(Exception):
    """Something only the library's encoder renders (or rejects) correctly."""


def _exemplar(exemplar: Any) -> str:
    labels = ",".join(f'{k}="{escape_value(v)}"' for k, v in sorted(exemplar.labels.items()))
    if exemplar.timestamp is not None:
        return f" # {{{labels}}} {_go_float(exemplar.value)} {exemplar.timestamp}"
    return f" # {{{labels}}} {_go_float(exemplar.value)}"


def _valid_exemplar(kind: str, family: str, sample: str) -> bool:
    if kind == "counter":
        return sample.endswith("_total")
    if kind == "gaugehistogram":
        return sample.endswith("_bucket")
    if kind == "histogram":
        return sample.endswith("_bucket") or sample == family
    return False


class OpenMetricsEncoder:
    """Renders a registry in OpenMetrics 1.0.0, reusing label strings across scrapes."""

    def __init__(self) -> None:
        self._prefix = LabelPrefixes(_NAME, Fallback).get
        # id(child) → (child, its line prefixes); holding the child keeps its id unique.
        self._plans: dict[int, tuple[Any, tuple[str, ...]]] = {}

    # --- label strings --------------------------------------------------------------------

    def _plan(self, child: Any, name: str, labels: dict[str, str]) -> tuple[str, ...]:
        cached = self._plans.get(id(child))
        if cached is not None and cached[0] is child:
            return cached[1]
        prefix = self._prefix
        plan: tuple[str, ...]
        if isinstance(child, Histogram):
            buckets = tuple(
                prefix(name + "_bucket", {**labels, "le": _go_float(bound)})
                for bound in client_internals.histogram_bounds(child)
            )
            tail = tuple(prefix(name + s, labels) for s in ("_count", "_sum", "_created"))
            plan = buckets + tail
        elif isinstance(child, Counter):
            plan = (prefix(name + "_total", labels), prefix(name + "_created", labels))
        elif isinstance(child, Summary):
            plan = tuple(prefix(name + s, labels) for s in ("_count", "_sum", "_created"))
        else:
            plan = (prefix(name, labels),)
        if len(self._plans) >= MAX_CACHED:
            self._plans.clear()
        self._plans[id(child)] = (child, plan)
        return plan

    # --- families -------------------------------------------------------------------------

    @staticmethod
    def _header(name: str, documentation: str, kind: str, unit: str) -> str:
        if not _NAME.match(name):
            raise Fallback
        head = f"# HELP {name} {escape_value(documentation)}\n# TYPE {name} {kind}\n"
        if unit:
            head += f"# UNIT {name} {unit}\n"
        return head

    def _direct(self, collector: Any, out: list[str]) -> Iterator[None]:
        """A prometheus_client instrument, from its children's values; yields between chunks."""
        family = client_internals.family(collector)
        name, kind = family.name, family.type
        out.append(self._header(name, family.documentation, kind, family.unit))
        names, children = client_internals.children(collector)
        created = client_internals.use_created()
        go = _go_float
        for count, (values, child) in enumerate(children, start=1):
            labels = dict(zip(names, values, strict=True))
            samples = client_internals.function_samples(child)
            if samples is not None:  # a gauge with set_function
                self._samples(kind, name, labels, samples, out)
                continue
            plan = self._plan(child, name, labels)
            if kind == "histogram":
                upper_bounds, buckets, total, since = client_internals.histogram_parts(child)
                bounds = len(upper_bounds)
                acc = 0.0
                for index, bucket in enumerate(buckets):
                    acc += bucket.get()
                    exemplar = bucket.get_exemplar()
                    line = plan[index] + go(acc)
                    out.append(line + _exemplar(exemplar) + "\n" if exemplar else line + "\n")
                out.append(plan[bounds] + go(acc) + "\n")
                if upper_bounds[0] >= 0:
                    out.append(plan[bounds + 1] + go(total.get()) + "\n")
                if created:
                    out.append(plan[bounds + 2] + go(since) + "\n")
            elif kind == "counter":
                value, since = client_internals.counter_parts(child)
                exemplar = value.get_exemplar()
                line = plan[0] + go(value.get())
                out.append(line + _exemplar(exemplar) + "\n" if exemplar else line + "\n")
                if created:
                    out.append(plan[1] + go(since) + "\n")
            elif kind == "summary":
                counted, total, since = client_internals.summary_parts(child)
                out.append(plan[0] + go(counted.get()) + "\n")
                out.append(plan[1] + go(total.get()) + "\n")
                if created:
                    out.append(plan[2] + go(since) + "\n")
            else:
                out.append(plan[0] + go(client_internals.gauge_value(child).get()) + "\n")
            if count % CHUNK_CHILDREN == 0:
                yield

    def _samples(
        self, kind: str, family: str, labels: dict[str, str], samples: Any, out: list[str]
    ) -> None:
        """Samples of a child (prometheus-client's ``Sample`` shape), under the child's labels."""
        for sample in samples:
            merged = {**labels, **sample[1]} if sample[1] else labels
            self._line(kind, family, family + sample[0], merged, sample, out)

    def _line(
        self,
        kind: str,
        family: str,
        name: str,
        labels: dict[str, str],
        sample: Any,
        out: list[str],
    ) -> None:
        _suffix, _labels, value, timestamp, exemplar, native = sample
        if native:
            raise Fallback
        line = self._prefix(name, labels)
        if value is not None:
            line += _go_float(value)
        if timestamp is not None:
            line += f" {timestamp}"
        if exemplar:
            if not _valid_exemplar(kind, family, name):
                raise Fallback
            line += _exemplar(exemplar)
        out.append(line + "\n")

    def _generic(self, collector: Collector, out: list[str]) -> None:
        for metric in collector.collect():
            out.append(self._header(metric.name, metric.documentation, metric.type, metric.unit))
            kind, family = metric.type, metric.name
            for sample in metric.samples:
                self._line(kind, family, sample.name, sample.labels, sample, out)

    # --- the registry ---------------------------------------------------------------------

    def chunks(self, registry: Collector) -> Iterator[str]:
        """The exposition of ``registry`` in pieces; raises :class:`Fallback` when it cannot."""
        collectors = client_internals.collectors(registry)
        if collectors is None or not client_internals.direct_rendering():
            raise Fallback
        out: list[str] = []
        for collector in collectors:
            if type(collector) in _DIRECT:
                for _ in self._direct(collector, out):
                    yield "".join(out)
                    out.clear()
            else:
                self._generic(collector, out)
            yield "".join(out)
            out.clear()
        yield "# EOF\n"

    def render(self, registry: Collector) -> bytes:
        """The whole exposition; the same bytes as prometheus_client's OpenMetrics encoder."""
        return "".join(self.chunks(registry)).encode("utf-8")


_DIRECT = (Counter, Gauge, Histogram, Summary)
