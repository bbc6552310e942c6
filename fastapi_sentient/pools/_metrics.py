"""``db_pool_*``, ``redis_pool_*``, ``http_pool_*``: pool statistics as Prometheus metrics.

Gauges (size, in use, idle, overflow, waiting, max size) are read from each
pool's :meth:`~fastapi_sentient.pools._base.Pool.stats` at scrape time by a
collector, so they are never stale and cost nothing between scrapes.  In
prometheus_client's multiprocess mode a collector would not be seen (only the
per-process files are), so there the same values are written to real gauges
whenever the pool's health check runs.  Acquire time, acquire timeouts and
connections created and closed are instruments the pools feed directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fastapi_sentient.metrics._registry import Metrics

if TYPE_CHECKING:
    from prometheus_client import Metric

    from fastapi_sentient.pools._base import Pool, PoolStats

#: Acquire-time buckets: fine at the low end, where uncontended checkouts land; a
#: saturated pool waits up to its acquire timeout (seconds).
ACQUIRE_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

_GAUGES: tuple[tuple[str, str], ...] = (
    ("size", "Connections open now (in use + idle)."),
    ("max_size", "Most connections the pool may open."),
    ("in_use", "Connections checked out by callers."),
    ("idle", "Open connections waiting in the pool."),
    ("overflow", "Open connections beyond the pool's base size."),
    ("waiting", "Callers waiting for a connection."),
)


class PoolCollector(Collector):
    """Reads every registered pool's stats when ``/metrics`` is scraped."""

    def __init__(self, pools: Callable[[], Iterable[Pool]]) -> None:
        self._pools = pools

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the pool kinds are known only at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One family per kind and field, one sample per pool."""
        families: dict[tuple[str, str], GaugeMetricFamily] = {}
        for pool in self._pools():
            try:
                stats = pool.stats()
            except Exception:  # noqa: BLE001  a broken adapter must not break the whole scrape
                continue
            for field, doc in _GAUGES:
                key = (stats.kind, field)
                family = families.get(key)
                if family is None:
                    family = GaugeMetricFamily(f"{stats.kind}_pool_{field}", doc, labels=["pool"])
                    families[key] = family
                family.add_metric([stats.name], float(getattr(stats, field)))
        yield from families.values()


class PoolInstruments:
    """Creates (once per kind) and binds the instruments pools report into."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def bind(self, pool: Pool) -> None:
        """Give ``pool.metrics`` its ``<kind>_pool_*`` instruments."""
        m = self._metrics
        kind = pool.kind
        pool.metrics.bind(
            acquire=m.histogram(
                f"{kind}_pool_acquire_seconds",
                f"Time {kind} pool callers waited for a connection.",
                ("pool",),
                buckets=ACQUIRE_BUCKETS,
            ),
            timeouts=m.counter(
                f"{kind}_pool_acquire_timeouts",
                f"{kind} pool acquires that gave up after the acquire timeout.",
                ("pool",),
            ),
            created=m.counter(
                f"{kind}_pool_connections_created",
                f"Connections the {kind} pool opened.",
                ("pool",),
            ),
            closed=m.counter(
                f"{kind}_pool_connections_closed",
                f"Connections the {kind} pool closed or lost.",
                ("pool",),
            ),
        )

    def publish(self, stats: PoolStats) -> None:
        """Multiprocess mode only: write the gauges of one pool's stats."""
        if not self._metrics.multiprocess:
            return
        for field, doc in _GAUGES:
            gauge = self._metrics.gauge(
                f"{stats.kind}_pool_{field}", doc, ("pool",), multiprocess_mode="livesum"
            )
            gauge.labels(stats.name).set(float(getattr(stats, field)))
