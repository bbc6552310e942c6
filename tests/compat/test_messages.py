"""What fastapi_sentient._compat says when a library's internal is missing."""

from __future__ import annotations

import logging
from importlib import metadata

import pytest

from fastapi_sentient import _compat as compat
from fastapi_sentient._compat import missing, read, warn_fallback
from fastapi_sentient._compat import prometheus as client_internals
from fastapi_sentient.exceptions import LibraryInternalsError, SentientError


def test_the_error_names_library_version_attribute_and_use() -> None:
    """One line an operator can act on; a SentientError and a RuntimeError."""
    error = missing("redis", "ConnectionPool._x", "the pool metrics")
    assert str(error).startswith(
        f"redis {metadata.version('redis')} has no ConnectionPool._x, which fastapi-sentient "
        "reads for the pool metrics;"
    )
    assert isinstance(error, SentientError)
    assert isinstance(error, RuntimeError)
    with pytest.raises(LibraryInternalsError, match="has no _nothing_here"):
        read(object(), "_nothing_here", "redis", "a test")


def test_a_fallback_is_said_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    """The second report of the same missing attribute is silent."""
    with caplog.at_level(logging.WARNING, logger="fastapi_sentient"):
        warn_fallback("prometheus-client", "Probe._once", "the slow path is used")
        warn_fallback("prometheus-client", "Probe._once", "the slow path is used")
    messages = [r.getMessage() for r in caplog.records if "Probe._once" in r.getMessage()]
    assert len(messages) == 1
    assert messages[0].endswith("has no Probe._once; the slow path is used")


def test_an_unknown_histogram_shape_falls_back_to_observe(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something without a histogram's internals gets None (the caller uses ``observe``), said at WARNING."""
    monkeypatch.setattr(compat, "_warned", set())  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="fastapi_sentient"):
        assert client_internals.histogram_observer_parts(object()) is None
    assert any("Histogram._upper_bounds" in r.getMessage() for r in caplog.records)
