"""FastAPI's native telemetry switch (fastapi_sentient._compat.fastapi), on real apps."""

from __future__ import annotations

from importlib import metadata
from importlib.util import find_spec

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from fastapi_sentient._compat import fastapi as fastapi_compat
from fastapi_sentient.exceptions import LibraryInternalsError

_VERSION = tuple(int(part) for part in metadata.version("fastapi").split(".")[:2])
HAS_NATIVE = find_spec("fastapi.telemetry") is not None


def test_native_telemetry_exists_exactly_from_0_165() -> None:
    """The versions with ``fastapi.telemetry`` are the ones ``docs/tracing.md`` names."""
    assert (_VERSION >= (0, 165)) == HAS_NATIVE


def test_native_tracing_is_turned_off_where_fastapi_has_it() -> None:
    """The app's own config says tracing off; older FastAPI and plain Starlette have nothing to turn off."""
    app = FastAPI()
    assert fastapi_compat.turn_off_native_tracing(app) is HAS_NATIVE
    if HAS_NATIVE:
        assert app._telemetry["tracing"] is False  # type: ignore[attr-defined]
    assert fastapi_compat.turn_off_native_tracing(Starlette()) is False


@pytest.mark.skipif(not HAS_NATIVE, reason="this FastAPI has no native telemetry")
def test_an_app_without_the_config_fails_loudly() -> None:
    """A FastAPI with native telemetry but no ``_telemetry`` on the app names fastapi and the attribute."""
    app = FastAPI()
    del app._telemetry  # type: ignore[attr-defined]
    with pytest.raises(LibraryInternalsError, match=r"^fastapi [\d.]+ has no FastAPI._telemetry"):
        fastapi_compat.turn_off_native_tracing(app)
