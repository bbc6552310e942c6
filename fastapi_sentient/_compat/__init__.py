"""Other libraries' private attributes, read in one place.

A few things we need have no public API in the library that owns them: how
many connections a redis-py pool holds, the handler uvicorn registered for
SIGTERM, the bucket values of a prometheus-client histogram.  Every such read
goes through one small module here per library; each function's docstring
names the private attribute it reads and why no public API serves.

A missing attribute raises :class:`LibraryInternalsError` naming the library,
its installed version and the attribute — at startup wherever the attribute
can be checked then — rather than misbehaving quietly.  Where a missing
attribute has a documented fallback (an optimisation giving way to the
library's own slower path), the fallback stays and is logged once at WARNING.
``tests/compat`` exercises every function against the real libraries, on the
newest and the lowest supported versions, and ``tests/test_library_privates.py``
fails when a private attribute of another library is touched outside this package.
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

from fastapi_sentient.exceptions import LibraryInternalsError

__all__ = ["LibraryInternalsError", "installed_version", "missing", "read", "warn_fallback"]

logger = logging.getLogger("fastapi_sentient")

_warned: set[tuple[str, str]] = set()


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"unknown"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def missing(distribution: str, attribute: str, use: str) -> LibraryInternalsError:
    """The error for an internal ``attribute`` of ``distribution`` that is not there."""
    msg = (
        f"{distribution} {installed_version(distribution)} has no {attribute}, which "
        f"fastapi-sentient reads for {use}; install a {distribution} version "
        "fastapi-sentient supports (pyproject.toml) or upgrade fastapi-sentient"
    )
    return LibraryInternalsError(msg)


def read(obj: Any, attribute: str, distribution: str, use: str) -> Any:
    """``obj.<attribute>``, or :class:`LibraryInternalsError` when the library dropped it."""
    try:
        return getattr(obj, attribute)
    except AttributeError:
        raise missing(distribution, attribute, use) from None


def warn_fallback(distribution: str, attribute: str, fallback: str) -> None:
    """Say once per process that ``attribute`` is missing and ``fallback`` is used instead."""
    if (distribution, attribute) in _warned:
        return
    _warned.add((distribution, attribute))
    logger.warning(
        "%s %s has no %s; %s",
        distribution,
        installed_version(distribution),
        attribute,
        fallback,
    )
