"""prometheus-client internals read by fastapi_sentient._compat.prometheus, on real instruments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    disable_created_metrics,
    enable_created_metrics,
)

from fastapi_sentient._compat import prometheus as client_internals


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def created_shown() -> Iterator[None]:
    enable_created_metrics()
    yield
    enable_created_metrics()


def test_every_reader_works_on_this_version() -> None:
    """The probe the OpenMetrics encoder relies on finds every internal it reads."""
    assert client_internals.direct_rendering()


def test_observer_parts_observe_like_the_library(registry: CollectorRegistry) -> None:
    """Incrementing the returned bucket and sum values is what ``observe`` records."""
    histogram = Histogram("h_seconds", "h", ["route"], buckets=(0.1, 1.0), registry=registry)
    parts = client_internals.histogram_observer_parts(histogram.labels("/"))
    assert parts is not None
    bounds, buckets, total = parts
    assert bounds == [0.1, 1.0, float("inf")]
    buckets[1].inc(1)
    total.inc(0.5)
    assert registry.get_sample_value("h_seconds_bucket", {"route": "/", "le": "0.1"}) == 0
    assert registry.get_sample_value("h_seconds_bucket", {"route": "/", "le": "1.0"}) == 1
    assert registry.get_sample_value("h_seconds_sum", {"route": "/"}) == 0.5


def test_collectors_in_registration_order(registry: CollectorRegistry) -> None:
    """The registry's collectors, in the order ``collect()`` renders them."""
    first = Counter("first", "f", registry=registry)
    second = Gauge("second", "s", registry=registry)
    assert client_internals.collectors(registry) == [first, second]
    assert client_internals.collectors(object()) is None
    registry.set_target_info({"service": "x"})
    assert client_internals.collectors(registry) is None


def test_family_and_children(registry: CollectorRegistry) -> None:
    """Label names and the existing children of a labelled instrument; an unlabelled one is its own child."""
    counter = Counter("calls", "calls made", ["a", "b"], registry=registry)
    child = counter.labels("1", "2")
    family = client_internals.family(counter)
    assert (family.name, family.type, family.documentation) == ("calls", "counter", "calls made")
    names, children = client_internals.children(counter)
    assert tuple(names) == ("a", "b")
    assert children == [(("1", "2"), child)]
    gauge = Gauge("g", "g", registry=registry)
    assert client_internals.children(gauge) == ((), [((), gauge)])


def test_use_created_follows_the_library_switch(created_shown: None) -> None:
    """``disable_created_metrics()`` is seen on the next read."""
    assert client_internals.use_created() is True
    disable_created_metrics()
    assert client_internals.use_created() is False


def test_function_samples_only_for_a_gauge_with_a_function(registry: CollectorRegistry) -> None:
    """A ``set_function`` gauge yields its samples; a plain one yields None."""
    plain = Gauge("plain", "p", registry=registry)
    assert client_internals.function_samples(plain) is None
    computed = Gauge("computed", "c", registry=registry)
    computed.set_function(lambda: 7.0)
    samples = list(client_internals.function_samples(computed) or ())
    assert [(s.name, s.value) for s in samples] == [("", 7.0)]


def test_values_match_the_registrys_samples(registry: CollectorRegistry) -> None:
    """Each reader returns the values the library itself exposes."""
    counter = Counter("c", "c", registry=registry)
    counter.inc(3)
    value, created = client_internals.counter_parts(counter)
    assert value.get() == 3
    assert created == registry.get_sample_value("c_created")

    gauge = Gauge("g", "g", registry=registry)
    gauge.set(4)
    assert client_internals.gauge_value(gauge).get() == 4

    histogram = Histogram("h", "h", buckets=(1.0,), registry=registry)
    histogram.observe(0.5)
    histogram.observe(2.0)
    bounds, buckets, total, created = client_internals.histogram_parts(histogram)
    assert list(bounds) == list(client_internals.histogram_bounds(histogram)) == [1.0, float("inf")]
    assert [b.get() for b in buckets] == [1, 1]
    assert total.get() == 2.5
    assert created == registry.get_sample_value("h_created")

    summary = Summary("s", "s", registry=registry)
    summary.observe(1.5)
    count, total, created = client_internals.summary_parts(summary)
    assert (count.get(), total.get()) == (1, 1.5)
    assert created == registry.get_sample_value("s_created")
