"""The request and result shapes of the LLM layer (the seed's LLMRequest / LLMResponse)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict


class Message(TypedDict):
    """One chat message; ``system`` messages become Anthropic's top-level ``system``."""

    role: Literal["system", "user", "assistant"] | str
    content: str


@dataclass(slots=True)
class LLMRequest:
    """What to ask: the model, the messages, sampling parameters and caller metadata.

    ``parameters`` takes ``max_tokens`` and ``temperature`` plus anything else the
    wire protocol understands (``top_p``, ``stop``, ...), passed through as is.
    ``metadata`` never leaves the process: it is for the caller's own bookkeeping.
    """

    model: str
    messages: list[Message]
    parameters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        model: str | None,
        messages: Sequence[Message] | None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> LLMRequest:
        """A request from ``generate``'s keyword arguments."""
        params = dict(parameters or {})
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if temperature is not None:
            params["temperature"] = temperature
        return cls(
            model=model or "",
            messages=list(messages or []),
            parameters=params,
            metadata=dict(metadata or {}),
        )

    @property
    def max_tokens(self) -> int | None:
        """The output token limit, if one was given."""
        value = self.parameters.get("max_tokens")
        return int(value) if value is not None else None


#: The ``type`` label values of ``llm_tokens_consumed_total``.
TOKEN_TYPES: tuple[str, ...] = ("input", "output", "cache_read", "cache_write", "reasoning")


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call consumed, in one meaning for every wire format.

    ``input_tokens`` counts every input token, including those read from or
    written to the prompt cache; ``output_tokens`` every output token,
    reasoning included.  ``cache_read_tokens``, ``cache_write_tokens`` and
    ``reasoning_tokens`` are parts of those totals, never added to them (the
    meaning of the OpenTelemetry GenAI conventions and of genai-prices;
    :mod:`fastapi_sentient.llm.usage` converts each wire format to it).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output."""
        return self.input_tokens + self.output_tokens

    def by_type(self) -> dict[str, int]:
        """Counts by the ``type`` label of ``llm_tokens_consumed_total``."""
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "cache_read": self.cache_read_tokens,
            "cache_write": self.cache_write_tokens,
            "reasoning": self.reasoning_tokens,
        }


@dataclass(slots=True)
class LLMResult:
    """What a call returned, who served it and what it cost."""

    text: str
    usage: Usage
    cost_usd: float | None
    """USD from the price table; None when the model has no known price."""
    provider: str
    model: str
    response_model: str | None = None
    finish_reason: str | None = None
    attempts: int = 1
    duration: float = 0.0
    raw: Any = field(default=None, repr=False)
    """The provider's decoded answer (a dict), or the SDK's response object."""


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider adapter's answer before pricing and bookkeeping."""

    text: str
    usage: Usage
    response_model: str | None = None
    finish_reason: str | None = None
    raw: Any = None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One piece of a streamed answer: text, and usage/finish data when the provider sends it."""

    text: str = ""
    usage: Usage | None = None
    response_model: str | None = None
    finish_reason: str | None = None
    done: bool = False
    raw: Any = field(default=None, repr=False)
    """The official SDK's own event, for streams run through ``sentient.llm.sdk``."""
