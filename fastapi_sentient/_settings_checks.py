"""Checks of settings against each other: paths, header names, durations, management.

Each one guards against a configuration that starts fine and then makes a
probe lie: a drain path equal to the readiness path drains the pod on every
probe, a framing header as the request id header breaks every response, an
infinite delay never stops.  Every check returns problems as one short phrase
naming the variable, and :func:`problems` collects them; the settings model
joins them into the one line that stops startup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

#: RFC 9110 token: the characters a header field name may use.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

#: Hop-by-hop and framing headers: the server or a proxy owns them, so no setting may
#: name them (a request id header called Content-Length breaks every response).
FRAMING_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Credential headers: fine to send to a provider, never to echo as a request id.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "proxy-authenticate", "proxy-authorization"}
)

#: Characters an endpoint path may not contain: a query, a fragment, whitespace.
_BAD_PATH = re.compile(r"[?#\s%]")

#: Floor of SENTIENT_HEALTH_INTERVAL: below it the check loops spin the CPU.
HEALTH_INTERVAL_FLOOR = 0.1
#: Ceilings of the shutdown timings, seconds: longer than any pod's grace period.
MAX_SHUTDOWN_DELAY = 600.0
MAX_DRAIN_TIMEOUT = 3600.0
MAX_DRAIN_UNDO_AFTER = 3600.0

ENDPOINT_FIELDS = ("live_path", "ready_path", "health_path", "metrics_path", "drain_path")


def _env(field: str) -> str:
    return "SENTIENT_" + field.upper()


def check_paths(values: Mapping[str, str]) -> Iterator[str]:
    """Endpoint paths start with ``/``, are plain paths, and are distinct."""
    seen: dict[str, str] = {}
    for field, path in values.items():
        name = _env(field)
        if not path.startswith("/") or path.startswith("//"):
            yield f"{name} must start with a single '/' (e.g. /ready)"
        elif _BAD_PATH.search(path):
            yield f"{name} must be a plain path without '?', '#', '%' or spaces"
        elif path in seen:
            yield f"{name} must differ from {_env(seen[path])} (both are {path!r})"
        else:
            seen[path] = field


def header_name_problem(header: str, *, credentials: bool = True) -> str | None:
    """Why ``header`` cannot be a header name we send or read, or None when it can."""
    if not _TOKEN.match(header):
        return "must be a header name: letters, digits and !#$%&'*+-.^_`|~, no spaces"
    if header.lower() in FRAMING_HEADERS:
        return "must not be a hop-by-hop or framing header"
    if not credentials and header.lower() in CREDENTIAL_HEADERS:
        return "must not be a credential header"
    return None


def check_header_name(header: str, variable: str) -> Iterator[str]:
    """A header name set by one variable (the request id header)."""
    problem = header_name_problem(header, credentials=False)
    if problem is not None:
        yield f"{variable}={header!r}: {problem}"


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as a header value (never quoting it: it may be a secret)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "header values must be Latin-1 text"
    if any(ch in value for ch in "\r\n\0"):
        return "header values must not contain line breaks or NUL"
    return None


def check_headers(headers: Mapping[str, str], where: str) -> Iterator[str]:
    """Names and values of a header map configured under ``where``."""
    for header, value in headers.items():
        problem = header_name_problem(header)
        if problem is not None:
            # the name is not secret; the value never appears
            yield f"{where} header {header!r} {problem}"
            continue
        problem = header_value_problem(value)
        if problem is not None:
            yield f"{where} header {header!r}: {problem}"


def _floats(model: BaseModel, prefix: str) -> Iterator[tuple[str, float]]:
    for field in type(model).model_fields:
        value = getattr(model, field)
        yield from _float_values(f"{prefix}{field}", value)


def _float_values(path: str, value: Any) -> Iterator[tuple[str, float]]:
    if isinstance(value, float):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from _floats(value, f"{path}.")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _float_values(f"{path}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _float_values(f"{path}[{index}]", item)


def check_finite(model: BaseModel) -> Iterator[str]:
    """Every number of seconds, share or price is finite (``inf`` and ``nan`` never are)."""
    for path, value in _floats(model, ""):
        if not math.isfinite(value):
            field, _, rest = path.partition(".")
            where = f"{_env(field)} ({rest})" if rest else _env(field)
            yield f"{where}={value!r}: must be a finite number"


def check_ranges(
    *,
    health_interval: float,
    shutdown_delay: float,
    drain_timeout: float,
    drain_undo_after: float,
) -> Iterator[str]:
    """Durations within sane ranges (finite values are checked by :func:`check_finite`)."""
    if health_interval < HEALTH_INTERVAL_FLOOR:
        yield (
            f"SENTIENT_HEALTH_INTERVAL={health_interval!r}: must be at least "
            f"{HEALTH_INTERVAL_FLOOR:g} seconds"
        )
    bounds = (
        ("SENTIENT_SHUTDOWN_DELAY", shutdown_delay, MAX_SHUTDOWN_DELAY),
        ("SENTIENT_DRAIN_TIMEOUT", drain_timeout, MAX_DRAIN_TIMEOUT),
        ("SENTIENT_DRAIN_UNDO_AFTER", drain_undo_after, MAX_DRAIN_UNDO_AFTER),
    )
    for name, value, ceiling in bounds:
        if math.isfinite(value) and value > ceiling:
            yield f"{name}={value!r}: must be at most {ceiling:g} seconds"


def check_drain(*, drain_endpoint: bool, token: bool, management_port: int | None) -> Iterator[str]:
    """The drain endpoint is never open to anonymous callers on the app port."""
    if drain_endpoint and not token and management_port is None:
        yield (
            "SENTIENT_DRAIN_ENDPOINT=true needs SENTIENT_HEALTH_TOKEN (preStop sends it as "
            "'Authorization: Bearer …') or SENTIENT_MANAGEMENT_PORT (a port the Service "
            "does not expose)"
        )


def check_management_port(management_port: int | None, port: int | None) -> Iterator[str]:
    """The management listener needs a port of its own."""
    if management_port is not None and management_port == port:
        yield "SENTIENT_MANAGEMENT_PORT must differ from SENTIENT_PORT"


def check_url_password(variable: str, url: str | None) -> Iterator[str]:
    """A URL whose password its driver would misread is refused, without quoting it.

    SQLAlchemy splits a raw ``@`` in a password at the first ``@`` (the rest
    becomes the host, and is printed as one); ``urllib`` and redis-py cannot
    read a port after a raw ``/`` in a password and quote what they found.
    """
    if not url:
        return
    scheme, sep, rest = url.partition("://")
    if not sep:
        return
    authority = rest.rpartition("@")[0]
    hint = "percent-encode reserved characters in the user and password (@ → %40, / → %2F, : → %3A)"
    if "@" in authority:
        yield f"{variable}: the user or password contains a raw '@'; {hint}"
        return
    if scheme.lower() in ("redis", "rediss"):
        from urllib.parse import urlsplit

        try:
            urlsplit(url).port  # noqa: B018 - reading it is what raises
        except ValueError:
            yield f"{variable}: host and port cannot be read; {hint}"


def joined(found: Iterable[str]) -> str | None:
    """The problems as one line, or None when there are none."""
    problems = list(found)
    return "; ".join(problems) if problems else None
