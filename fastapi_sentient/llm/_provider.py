"""A configured provider at run time: its wire adapter, pool, models, prices and breakers.

The vendors' wire formats are in :mod:`fastapi_sentient.llm._adapters`; this is
what the gateway keeps per provider entry, and the call a target makes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2

from fastapi_sentient.llm._adapters._content import Untranslatable
from fastapi_sentient.llm._adapters._wire import ProviderAdapter, WireAdapter
from fastapi_sentient.llm._adapters.anthropic import AnthropicFormat
from fastapi_sentient.llm._adapters.openai import OpenAIFormat
from fastapi_sentient.llm._breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    TransitionListener,
)
from fastapi_sentient.llm._errors import UnsupportedRequestError
from fastapi_sentient.llm._metrics import OTHER
from fastapi_sentient.llm._pricing import PriceTable
from fastapi_sentient.llm._types import Completion, LLMRequest
from fastapi_sentient.resilience._bulkhead import Gate

#: The wire format of each ``kind``, built with a provider entry's options.
WIRE_FORMATS: dict[str, Callable[..., OpenAIFormat | AnthropicFormat]] = {
    OpenAIFormat.kind: OpenAIFormat,
    AnthropicFormat.kind: AnthropicFormat,
}


def wire_adapter(kind: str, **options: Any) -> ProviderAdapter:
    """The adapter sending ``kind``'s wire format, with a provider entry's options."""
    return WireAdapter(WIRE_FORMATS[kind](**options))


@dataclass(slots=True)
class Provider:
    """One provider: who it is, how to reach it and what it serves.

    ``models`` are its capabilities: the models it serves, each a label of its
    own in metrics and a breaker of its own; any other model shares ``other``.
    ``max_concurrency`` caps this process's calls in flight to it (``None``: no
    cap of its own), so one slow provider cannot take every slot of the global
    limit and callers queue here, under their deadline, rather than in the pool.
    """

    name: str
    kind: str
    adapter: ProviderAdapter
    client: Callable[[], httpx2.AsyncClient]
    base_url: str
    models: list[str] = field(default_factory=list)
    prices: PriceTable = field(default_factory=PriceTable)
    attempt_timeout: float = 60.0
    critical: bool = False
    max_concurrency: int | None = None
    provider_name: str | None = None
    """``gen_ai.provider.name`` (``vllm``, ``ollama``, ...); None: the adapter's ``kind``."""
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    gate: Gate | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.max_concurrency is not None:
            self.gate = Gate(self.max_concurrency)

    @property
    def genai_name(self) -> str:
        """``gen_ai.provider.name`` in spans and the ``gen_ai_*`` metrics."""
        return self.provider_name or self.adapter.kind

    @property
    def server_address(self) -> str:
        """The host in ``base_url`` (OpenTelemetry ``server.address``)."""
        return urlsplit(self.base_url).hostname or ""

    def model_label(self, model: str) -> str:
        """``model`` if configured, else ``other``."""
        return model if model in self.models else OTHER

    def breaker(
        self, model: str, config: BreakerConfig, listener: TransitionListener
    ) -> CircuitBreaker:
        """The breaker of ``model`` on this provider (unknown models share one)."""
        label = self.model_label(model)
        breaker = self.breakers.get(label)
        if breaker is None:
            breaker = CircuitBreaker(
                f"llm:{self.name}:{label}",
                config,
                provider=self.name,
                model=label,
                on_transition=listener,
            )
            self.breakers[label] = breaker
            listener(breaker, BreakerState.CLOSED, BreakerState.CLOSED)  # publish the initial 0
        return breaker

    @property
    def default_model(self) -> str | None:
        """The first configured model, used when a call names none."""
        return self.models[0] if self.models else None


@dataclass(frozen=True, slots=True)
class Target:
    """One provider and the model to ask it for."""

    provider: Provider
    model: str


Operation = Callable[[Target], Awaitable[Completion]]


def check_translatable(request: LLMRequest, targets: list[Target], *, stream: bool) -> None:
    """Build ``request`` for every target's wire format; refuse what one cannot express.

    Runs before a call sends anything, so a route whose fallback speaks another
    format fails at once with what it could not translate, rather than after
    its first target has failed (or, worse, with a request the other provider
    rejects).  Adapters without a ``payload`` method are not checked.
    """
    for target in targets:
        build = getattr(target.provider.adapter, "payload", None)
        if build is None:
            continue
        try:
            build(dataclasses.replace(request, model=target.model), stream=stream)
        except Untranslatable as exc:
            provider = target.provider
            msg = (
                f"{provider.name}/{target.model} ({provider.adapter.kind} wire format) cannot "
                f"take {exc}; nothing was sent"
            )
            raise UnsupportedRequestError(msg, provider=provider.name, model=target.model) from None


def adapter_operation(request: LLMRequest, redact: Callable[[str], str]) -> Operation:
    """One attempt of ``request`` through the target provider's wire adapter."""

    async def complete(target: Target) -> Completion:
        provider = target.provider
        return await provider.adapter.complete(
            provider.client(),
            dataclasses.replace(request, model=target.model),
            provider=provider.name,
            redact=redact,
        )

    return complete
