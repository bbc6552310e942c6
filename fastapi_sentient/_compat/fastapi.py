"""FastAPI's native OpenTelemetry configuration.

FastAPI (from the release that added ``fastapi.telemetry``) starts its own
request spans once a global tracer provider exists.  With our server spans on,
that would be two server spans per request; FastAPI takes
``FastAPI(telemetry={"tracing": False})`` only at construction, and the user
built the app, so we turn tracing off in the config dict the app keeps as
``_telemetry`` and reads per request.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from fastapi_sentient._compat import missing

__all__ = ["turn_off_native_tracing"]

_FASTAPI = "fastapi"


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
