"""Fixtures of the resilience tests: one fake dependency server for the session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.resilience.dependency import FakeDependency


@pytest.fixture(scope="session")
def _dependency_server() -> Iterator[FakeDependency]:
    server = FakeDependency().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dependency(_dependency_server: FakeDependency) -> FakeDependency:
    """The fake dependency, healthy and with zero counts."""
    _dependency_server.reset()
    return _dependency_server
