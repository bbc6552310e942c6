"""The vendors' wire formats, and every fact about a vendor in one place.

One module per vendor (:mod:`.openai`, :mod:`.anthropic`) holds its facts —
base URL, API key variable, auth header shape, API version — and its wire
format: the request body built from an :class:`~fastapi_sentient.llm.LLMRequest`
and the answers (whole or streamed) read back.  Those modules are pure
translation, so the pools and the settings' secrets can read a vendor's facts
without importing any HTTP client; the sending lives in :mod:`._wire`.
"""

from __future__ import annotations

import os

from fastapi_sentient.llm._adapters import anthropic, openai

#: Each wire protocol's API key variable, read when a provider entry gives no key.
KEY_VARIABLES = {openai.KIND: openai.KEY_VARIABLE, anthropic.KIND: anthropic.KEY_VARIABLE}
#: Each wire protocol's API root, used when a provider entry gives no ``base_url``.
DEFAULT_BASE_URLS = {openai.KIND: openai.BASE_URL, anthropic.KIND: anthropic.BASE_URL}


def auth_headers(
    kind: str, api_key: str | None, anthropic_version: str = anthropic.API_VERSION
) -> dict[str, str]:
    """The headers a provider of ``kind`` authenticates with."""
    if kind == anthropic.KIND:
        return anthropic.auth_headers(api_key, anthropic_version)
    return openai.auth_headers(api_key)


def resolve_api_key(kind: str, configured: str | None) -> str | None:
    """The configured key, else the vendor's standard variable for ``kind``."""
    if configured:
        return configured
    variable = KEY_VARIABLES.get(kind)
    return os.environ.get(variable) or None if variable else None


__all__ = [
    "DEFAULT_BASE_URLS",
    "KEY_VARIABLES",
    "anthropic",
    "auth_headers",
    "openai",
    "resolve_api_key",
]
