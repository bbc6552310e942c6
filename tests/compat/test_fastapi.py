"""FastAPI's native telemetry switch (fastapi_sentient._compat.fastapi), on real apps."""

from __future__ import annotations

from importlib import metadata
from importlib.util import find_spec

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
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


def test_included_routers_are_listed_with_their_full_templates() -> None:
    """An included router's route appears once, under its prefixed path, on every supported FastAPI."""
    router = APIRouter(prefix="/api")

    @router.get("/items/{item_id}")
    def item(item_id: int) -> int:
        return item_id

    app = FastAPI()
    app.include_router(router)
    listed = list(fastapi_compat.included_route_candidates(app.router.routes))
    assert [r.path for r in listed if isinstance(r, APIRoute)] == ["/api/items/{item_id}"]


def test_the_private_flattener_exists_exactly_from_0_137() -> None:
    """FastAPI keeps included routers as nodes (and has the helper) from 0.137; before, the list is flat."""
    flatten = fastapi_compat._candidates()
    assert (flatten is not iter) == (_VERSION >= (0, 137))
