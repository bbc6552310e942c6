"""The LLM provider layer: providers over pooled clients, breakers, retries, fallback, metrics.

``sentient.llm`` is the gateway to the configured providers; see ``docs/llm.md``.
This package exports what that page teaches: the request and result types and
the errors.  Everything else lives in private modules, and the vendors' wire
formats in :mod:`fastapi_sentient.llm._adapters`.  Importing this package
imports no HTTP client: the pools and the settings read vendor facts from it.
"""

from __future__ import annotations

from typing import Any

from fastapi_sentient.llm._errors import (
    AllTargetsFailedError,
    CircuitOpenError,
    ConcurrencyLimitError,
    NoProviderError,
    PoolExhaustedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ThrottledError,
    UnsupportedRequestError,
)
from fastapi_sentient.llm._stream import LLMStream
from fastapi_sentient.llm._types import (
    LLMRequest,
    LLMResult,
    Message,
    ResponseSchema,
    StopReason,
    Tool,
    ToolCall,
    Usage,
)

__all__ = [
    "AllTargetsFailedError",
    "CircuitOpenError",
    "ConcurrencyLimitError",
    "LLMRequest",
    "LLMResult",
    "LLMStream",
    "Message",
    "NoProviderError",
    "PoolExhaustedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "ResponseSchema",
    "StopReason",
    "ThrottledError",
    "Tool",
    "ToolCall",
    "UnsupportedRequestError",
    "Usage",
]


def __getattr__(name: str) -> Any:
    """The gateway's class (under its former name too), imported with its HTTP client on first use."""
    if name in ("LLMGateway", "LLMRegistry"):
        from fastapi_sentient.llm import _gateway

        return getattr(_gateway, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
