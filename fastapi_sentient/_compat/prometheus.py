"""prometheus-client's instrument and registry internals.

Two of our hot paths skip work prometheus-client does on every call: observing
a histogram (it walks every bucket and re-validates exemplars) and rendering
OpenMetrics (it builds a ``Sample`` and a label dictionary per line, then
re-escapes them).  Both need the values an instrument keeps — its bucket
bounds and counters, its sum, its creation time — and the registry's list of
collectors, none of which prometheus-client exposes except through those slow
paths.  Both paths have a documented fallback to the library's own code, which
gives the same numbers and bytes more slowly; so a missing attribute makes them
fall back (said once at WARNING) rather than fail.  :func:`direct_rendering`
probes real instruments once to decide.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi_sentient._compat import warn_fallback

__all__ = [
    "children",
    "collectors",
    "counter_parts",
    "direct_rendering",
    "family",
    "function_samples",
    "gauge_value",
    "histogram_bounds",
    "histogram_observer_parts",
    "histogram_parts",
    "summary_parts",
    "use_created",
]

_CLIENT = "prometheus-client"


def histogram_observer_parts(child: Any) -> tuple[list[float], list[Any], Any] | None:
    """A histogram child's ``_upper_bounds``, ``_buckets`` and ``_sum``, or None.

    ``Histogram.observe`` finds the bucket by a linear walk; to bisect instead
    we increment the bucket and sum values ourselves.  None (the caller then
    uses the public ``observe``) when the child does not keep them as expected.
    """
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if (
        bounds is None
        or buckets is None
        or total is None
        or len(bounds) != len(buckets)
        or not all(hasattr(b, "set_exemplar") for b in buckets)
    ):
        warn_fallback(_CLIENT, "Histogram._upper_bounds/_buckets/_sum", "histograms use observe()")
        return None
    return list(bounds), list(buckets), total


def collectors(registry: Any) -> list[Any] | None:
    """A ``CollectorRegistry``'s collectors in collection order (``_collector_to_names``, ``_lock``).

    The registry lists them only through ``collect()``, which renders every
    sample.  None for a registry with ``target_info`` (the library adds a
    synthetic family for it) or an object that is no ``CollectorRegistry``.
    """
    from prometheus_client import CollectorRegistry

    if not isinstance(registry, CollectorRegistry):
        return None
    names = getattr(registry, "_collector_to_names", None)
    lock = getattr(registry, "_lock", None)
    if names is None or lock is None or not hasattr(registry, "_target_info"):
        warn_fallback(_CLIENT, "CollectorRegistry._collector_to_names", _LIBRARY_ENCODER)
        return None
    if registry._target_info:
        return None
    with lock:
        return list(names)


def family(collector: Any) -> Any:
    """``MetricWrapperBase._get_metric()``: the empty family (name, documentation, type, unit)."""
    return collector._get_metric()


def children(collector: Any) -> tuple[Sequence[str], list[tuple[Sequence[str], Any]]]:
    """An instrument's label names and its (label values, child) pairs (``_metrics``, ``_lock``).

    ``labels()`` creates children; nothing public lists the existing ones.  An
    instrument without labels is its own only child.
    """
    if collector._is_parent():
        with collector._lock:
            found = list(collector._metrics.items())
        return collector._labelnames, found
    return (), [((), collector)]


def use_created() -> bool:
    """``prometheus_client.metrics._use_created``: whether ``_created`` samples are shown.

    ``disable_created_metrics()`` sets it; there is no getter.
    """
    from prometheus_client import metrics

    return bool(metrics._use_created)


def function_samples(child: Any) -> Iterable[Any] | None:
    """The samples of a gauge given ``set_function`` (its instance ``_child_samples``), else None."""
    if "_child_samples" in vars(child):
        samples: Iterable[Any] = child._child_samples()
        return samples
    return None


def histogram_bounds(child: Any) -> Sequence[float]:
    """A histogram child's bucket upper bounds (``_upper_bounds``), ``+Inf`` last."""
    bounds: Sequence[float] = child._upper_bounds
    return bounds


def histogram_parts(child: Any) -> tuple[Sequence[float], Sequence[Any], Any, float]:
    """A histogram child's ``_upper_bounds``, ``_buckets`` (values), ``_sum`` (value) and ``_created``."""
    return child._upper_bounds, child._buckets, child._sum, child._created


def counter_parts(child: Any) -> tuple[Any, float]:
    """A counter child's ``_value`` (with its exemplar) and ``_created``."""
    return child._value, child._created


def summary_parts(child: Any) -> tuple[Any, Any, float]:
    """A summary child's ``_count`` and ``_sum`` values and ``_created``."""
    return child._count, child._sum, child._created


def gauge_value(child: Any) -> Any:
    """A gauge child's ``_value``."""
    return child._value


_LIBRARY_ENCODER = "OpenMetrics is rendered by prometheus-client's own encoder"


@functools.cache
def direct_rendering() -> bool:
    """Whether the readers above work on this prometheus-client (probed once on real instruments)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary

    registry = CollectorRegistry()
    labelled = Counter("probe", "probe", ["a"], registry=registry)
    labelled.labels("1").inc()
    gauge = Gauge("probe_gauge", "probe", registry=registry)
    histogram = Histogram("probe_seconds", "probe", registry=registry)
    summary = Summary("probe_summary", "probe", registry=registry)
    try:
        if collectors(registry) is None:
            return False
        for collector in (labelled, gauge, histogram, summary):
            family(collector)
            children(collector)
        use_created()
        function_samples(gauge)
        counter_parts(labelled.labels("1"))
        gauge_value(gauge)
        histogram_parts(histogram)
        histogram_bounds(histogram)
        summary_parts(summary)
    except AttributeError as exc:
        warn_fallback(_CLIENT, str(exc.name), _LIBRARY_ENCODER)
        return False
    return True
