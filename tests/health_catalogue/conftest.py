"""Fixtures of the catalogue tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.health_catalogue.servers import Scripted, scripted_server


@pytest.fixture
def http_server() -> Iterator[Scripted]:
    """A scripted HTTP server on a free loopback port."""
    with scripted_server() as server:
        yield server
