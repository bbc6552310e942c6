"""For users of the official ``openai`` and ``anthropic`` SDKs: same pool, breaker, retries, metrics.

::

    client = sentient.llm.sdk.openai("openai")          # AsyncOpenAI on the pooled client
    response = await sentient.llm.sdk.call(
        "openai", "gpt-4o-mini",
        lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages),
    )
    async with sentient.llm.sdk.stream(
        "openai", "gpt-4o-mini",
        lambda: client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True,
            stream_options={"include_usage": True},
        ),
    ) as stream:
        async for chunk in stream:                      # the SDK's ChatCompletionChunk
            ...

The clients are built with ``max_retries=0``: our retry loop is the only one,
so an outage costs ``SENTIENT_LLM_RETRY_ATTEMPTS`` requests per call, not that
times the SDK's own attempts.  :meth:`SDKCalls.call` and :meth:`SDKCalls.stream`
run the SDK call through the pipeline (concurrency limits, deadline, retries,
breaker, attempt timeout, span) and read tokens from the response's or the
stream's ``usage`` (either SDK's shape) for the metrics and cost.  SDK
exceptions are re-raised as the errors of :mod:`fastapi_sentient.llm`, with the
SDK's exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi_sentient.exceptions import LLMError, MissingDependencyError
from fastapi_sentient.llm._adapters import anthropic as anthropic_vendor
from fastapi_sentient.llm._adapters import openai as openai_vendor
from fastapi_sentient.llm._adapters import resolve_api_key
from fastapi_sentient.llm._provider import Target
from fastapi_sentient.llm._sdk._shapes import as_llm_error, usage_of
from fastapi_sentient.llm._sdk._stream import SDKStream, sdk_opener
from fastapi_sentient.llm._types import Completion

if TYPE_CHECKING:
    from fastapi_sentient.llm._gateway import LLMGateway

T = TypeVar("T")


class SDKCalls:
    """``sentient.llm.sdk``: official SDK clients on our pools, and guarded calls."""

    def __init__(self, gateway: LLMGateway) -> None:
        self._gateway = gateway

    def _client_options(self, provider: str, kind: str) -> dict[str, Any]:
        gateway = self._gateway
        entry = gateway.providers.get(provider)
        if entry is None or entry.kind != kind:
            msg = f"no {kind} provider named {provider!r} in SENTIENT_LLM_PROVIDERS"
            raise LookupError(msg)
        settings = gateway.settings.providers.get(provider)
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
        return openai.AsyncOpenAI(
            **{**self._client_options(provider, openai_vendor.KIND), **options}
        )

    def anthropic(self, provider: str, **options: Any) -> Any:
        """An ``anthropic.AsyncAnthropic`` sending through provider ``provider``'s pool."""
        try:
            import anthropic
        except ImportError:
            package = "anthropic"
            raise MissingDependencyError(package, "llm") from None
        base = self._client_options(provider, anthropic_vendor.KIND)
        base["base_url"] = anthropic_vendor.sdk_base_url(str(base["base_url"]))
        return anthropic.AsyncAnthropic(**{**base, **options})

    async def call(self, provider: str, model: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one SDK call through the pipeline and return the SDK's response.

        ``provider`` may also name a route; ``call`` is then made once per target
        tried, so build it from the same client only for single-provider routes.
        """
        gateway = self._gateway
        route, targets = gateway.resolve(provider, model)
        redact = gateway.redact

        async def attempt(target: Target) -> Completion:
            try:
                response = await call()
            except LLMError:
                raise
            except Exception as exc:
                raise as_llm_error(exc, target, redact) from exc
            return Completion(text="", usage=usage_of(response), raw=response)

        result = await gateway.pipeline.call(targets, attempt, route)
        return result.raw  # type: ignore[no-any-return]

    def stream(self, provider: str, model: str, factory: Callable[[], Any]) -> SDKStream:
        """Run one streamed SDK call through the pipeline; iterate the result for the SDK's events.

        ``factory`` makes the SDK call (``lambda: client.chat.completions.create(...,
        stream=True, stream_options={"include_usage": True})`` or ``lambda:
        client.messages.stream(...)``); it is called once per attempt, and
        attempts are retried only until the stream's first event.  Nothing is
        sent before the first ``async for`` step.
        """
        gateway = self._gateway
        route, targets = gateway.resolve(provider, model)
        redact = gateway.redact
        return SDKStream(
            lambda on_open: gateway.pipeline.stream(
                targets, sdk_opener(factory, redact, on_open), route
            )
        )
