"""For users of the official ``openai`` and ``anthropic`` SDKs: same pool, breaker, retries, metrics.

::

    client = sentient.llm.sdk.openai("openai")          # AsyncOpenAI on the pooled client
    response = await sentient.llm.sdk.call(
        "openai", "gpt-4o-mini",
        lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages),
    )

The clients are built with ``max_retries=0``: our retry loop is the only one,
so an outage costs ``SENTIENT_LLM_RETRY_ATTEMPTS`` requests per call, not that
times the SDK's own three.  :meth:`SDKCalls.call` runs the SDK call through the
pipeline (concurrency limit, deadline, retries, breaker, attempt timeout) and
reads tokens from the response's ``usage`` (either SDK's shape) for the metrics
and cost.  SDK exceptions are re-raised as :mod:`fastapi_sentient.llm.errors`
types with the SDK's exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi_sentient.exceptions import LLMError, MissingDependencyError
from fastapi_sentient.llm.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ThrottledError,
)
from fastapi_sentient.llm.outcome import Outcome, classify
from fastapi_sentient.llm.provider import Target
from fastapi_sentient.llm.types import Completion, Usage
from fastapi_sentient.pools.http import resolve_api_key

if TYPE_CHECKING:
    from fastapi_sentient.llm.registry import LLMRegistry

T = TypeVar("T")


def usage_of(response: Any) -> Usage:
    """Tokens from an OpenAI (``prompt_tokens``) or Anthropic (``input_tokens``) response."""
    usage = getattr(response, "usage", None)
    if usage is None and isinstance(response, dict):
        usage = response.get("usage")
    if usage is None:
        return Usage()

    def read(*names: str) -> int:
        for name in names:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            if isinstance(value, int):
                return value
        return 0

    return Usage(read("prompt_tokens", "input_tokens"), read("completion_tokens", "output_tokens"))


def as_llm_error(exc: Exception, target: Target, redact: Callable[[str], str]) -> LLMError:
    """Our classified error for an SDK exception."""
    verdict = classify(exc)
    name, model = target.provider.name, target.model
    text = redact(f"{name}: {type(exc).__name__}: {exc}")
    if verdict.outcome == Outcome.THROTTLED:
        return ThrottledError(text, provider=name, model=model, retry_after=verdict.retry_after)
    if verdict.error_type == "timeout":
        return ProviderTimeoutError(text, provider=name, model=model)
    if verdict.error_type == "connect":
        return ProviderConnectionError(text, provider=name, model=model)
    status = int(verdict.error_type) if verdict.error_type.isdigit() else 500
    return ProviderError(
        text,
        provider=name,
        model=model,
        status=status,
        retry_after=verdict.retry_after,
        should_retry=verdict.retryable if verdict.error_type.isdigit() else False,
    )


class SDKCalls:
    """``sentient.llm.sdk``: official SDK clients on our pools, and guarded calls."""

    def __init__(self, registry: LLMRegistry) -> None:
        self._registry = registry

    def _client_options(self, provider: str, kind: str) -> dict[str, Any]:
        registry = self._registry
        entry = registry.providers.get(provider)
        if entry is None or entry.kind != kind:
            msg = f"no {kind} provider named {provider!r} in SENTIENT_LLM_PROVIDERS"
            raise LookupError(msg)
        settings = registry._sentient.settings.llm_providers.get(provider)
        configured = settings.api_key.get_secret_value() if settings and settings.api_key else None
        return {
            "api_key": resolve_api_key(kind, configured) or "not-set",
            "base_url": entry.base_url,
            "http_client": entry.client(),
            "max_retries": 0,
        }

    def openai(self, provider: str, **options: Any) -> Any:
        """An ``openai.AsyncOpenAI`` sending through provider ``provider``'s pool."""
        try:
            import openai
        except ImportError:
            package = "openai"
            raise MissingDependencyError(package, "llm") from None
        return openai.AsyncOpenAI(**{**self._client_options(provider, "openai"), **options})

    def anthropic(self, provider: str, **options: Any) -> Any:
        """An ``anthropic.AsyncAnthropic`` sending through provider ``provider``'s pool."""
        try:
            import anthropic
        except ImportError:
            package = "anthropic"
            raise MissingDependencyError(package, "llm") from None
        base = self._client_options(provider, "anthropic")
        # the Anthropic SDK appends /v1 itself
        base["base_url"] = str(base["base_url"]).rstrip("/").removesuffix("/v1")
        return anthropic.AsyncAnthropic(**{**base, **options})

    async def call(self, provider: str, model: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one SDK call through the pipeline and return the SDK's response.

        ``provider`` may also name a route; ``call`` is then made once per target
        tried, so build it from the same client only for single-provider routes.
        """
        registry = self._registry
        route, targets = registry.resolve(provider, model)
        redact = registry._sentient.redact

        async def attempt(target: Target) -> Completion:
            try:
                response = await call()
            except LLMError:
                raise
            except Exception as exc:
                raise as_llm_error(exc, target, redact) from exc
            return Completion(text="", usage=usage_of(response), raw=response)

        result = await registry.pipeline.call(targets, attempt, route)
        return result.raw  # type: ignore[no-any-return]
