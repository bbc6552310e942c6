"""The LLM provider layer: providers over pooled clients, breakers, retries, fallback, metrics.

``sentient.llm`` is an :class:`LLMRegistry`; see ``docs/llm.md``.
"""

from __future__ import annotations

from fastapi_sentient.llm.breaker import BreakerConfig, BreakerState, CircuitBreaker
from fastapi_sentient.llm.errors import (
    AllTargetsFailedError,
    CircuitOpenError,
    ConcurrencyLimitError,
    NoProviderError,
    PoolExhaustedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RetryBudgetExhaustedError,
    ThrottledError,
    UnsupportedRequestError,
)
from fastapi_sentient.llm.outcome import Outcome, classify
from fastapi_sentient.llm.pricing import ModelPrice, PriceTable
from fastapi_sentient.llm.provider import Provider
from fastapi_sentient.llm.providers.base import ProviderAdapter
from fastapi_sentient.llm.registry import LLMRegistry
from fastapi_sentient.llm.retry import RetryBudget, RetryPolicy
from fastapi_sentient.llm.sdk_stream import SDKStream
from fastapi_sentient.llm.stream import LLMStream
from fastapi_sentient.llm.types import (
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
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConcurrencyLimitError",
    "LLMRegistry",
    "LLMRequest",
    "LLMResult",
    "LLMStream",
    "Message",
    "ModelPrice",
    "NoProviderError",
    "Outcome",
    "PoolExhaustedError",
    "PriceTable",
    "Provider",
    "ProviderAdapter",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "ResponseSchema",
    "RetryBudget",
    "RetryBudgetExhaustedError",
    "RetryPolicy",
    "SDKStream",
    "StopReason",
    "ThrottledError",
    "Tool",
    "ToolCall",
    "UnsupportedRequestError",
    "Usage",
    "classify",
]
