"""FastAPI's included-router tree and its native OpenTelemetry configuration.

From 0.137, ``include_router`` keeps each included router as a node of the
app's route list instead of copying its routes in; the routes with their full
(prefixed) templates are listed only by the private
``fastapi.routing._iter_included_route_candidates``.  The route label index
needs that list.  Older FastAPI has the flat list already (the documented
fallback); 0.137 or newer without the helper raises :class:`LibraryInternalsError`.

FastAPI (from the release that added ``fastapi.telemetry``) starts its own
request spans once a global tracer provider exists.  With our server spans on,
that would be two server spans per request; FastAPI takes
``FastAPI(telemetry={"tracing": False})`` only at construction, and the user
built the app, so we turn tracing off in the config dict the app keeps as
``_telemetry`` and reads per request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from importlib.util import find_spec
from typing import Any

from fastapi_sentient._compat import installed_version, missing

__all__ = ["included_route_candidates", "turn_off_native_tracing"]

_FASTAPI = "fastapi"
#: The first FastAPI keeping included routers as nodes of the route list.
_ROUTER_NODES = (0, 137)


def _release(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:2]:
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


@functools.cache
def _candidates() -> Callable[[list[Any]], Iterator[Any]]:
    try:
        from fastapi.routing import (  # type: ignore[attr-defined,unused-ignore]
            _iter_included_route_candidates as found,
        )
    except ImportError:
        if _release(installed_version(_FASTAPI)) >= _ROUTER_NODES:
            attribute = "fastapi.routing._iter_included_route_candidates"
            raise missing(_FASTAPI, attribute, "the route labels of included routers") from None
        return iter
    flatten: Callable[[list[Any]], Iterator[Any]] = found
    return flatten


def included_route_candidates(routes: Iterable[Any]) -> Iterator[Any]:
    """``routes`` with every included router replaced by its routes (full templates), in order."""
    return _candidates()(list(routes))


def turn_off_native_tracing(app: Any) -> bool:
    """Turn off FastAPI's own request spans for ``app``; False where FastAPI has none.

    Raises:
        LibraryInternalsError: FastAPI has native telemetry but the app keeps no
            ``_telemetry`` config with a ``tracing`` switch.
    """
    from fastapi import FastAPI

    if not isinstance(app, FastAPI) or find_spec("fastapi.telemetry") is None:
        return False
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict) or "tracing" not in config:
        attribute = "FastAPI._telemetry['tracing']"
        raise missing(_FASTAPI, attribute, "one server span per request")
    config["tracing"] = False
    return True
