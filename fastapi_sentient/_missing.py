"""A stand-in for a subsystem whose optional extra is not installed.

The core install must start without the extras; a handle attribute such as
``sentient.llm`` still exists there, and using it says which extra to install
instead of failing with an ``AttributeError`` or a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from typing import NoReturn

from fastapi_sentient.exceptions import MissingDependencyError


class MissingExtra:
    """Raises :class:`MissingDependencyError` naming the extra on any use."""

    def __init__(self, package: str, extra: str) -> None:
        self._package = package
        self._extra = extra

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        raise MissingDependencyError(self._package, self._extra)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<not installed: pip install 'fastapi-sentient[{self._extra}]'>"
