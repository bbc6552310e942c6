"""``sentient.llm``: the gateway to the configured providers, their routes and the calls through them.

Providers come from ``SENTIENT_LLM_PROVIDERS`` and from :meth:`LLMGateway.add_provider`
(before the app starts); each sends through its pooled ``httpx2`` client.
:class:`LLMGateway` is the one way in: it resolves a provider, model or route
to targets and runs the call through the pipeline.
Routes (``SENTIENT_LLM_ROUTES`` or :meth:`add_route`) name an ordered fallback
list of ``provider/model`` targets under one logical model name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from fastapi_sentient.exceptions import ConfigurationError
from fastapi_sentient.llm._adapters import anthropic, openai
from fastapi_sentient.llm._adapters._wire import ProviderAdapter
from fastapi_sentient.llm._breaker import BreakerState
from fastapi_sentient.llm._config import policy_settings
from fastapi_sentient.llm._errors import NoProviderError
from fastapi_sentient.llm._health import ProvidersCheck
from fastapi_sentient.llm._metrics import LLMMetrics
from fastapi_sentient.llm._open_stream import adapter_opener
from fastapi_sentient.llm._pipeline import Pipeline
from fastapi_sentient.llm._pricing import PriceTable, start_price_updates
from fastapi_sentient.llm._provider import (
    Provider,
    Target,
    adapter_operation,
    check_translatable,
    wire_adapter,
)
from fastapi_sentient.llm._sdk import SDKCalls
from fastapi_sentient.llm._stream import LLMStream
from fastapi_sentient.llm._types import (
    ContentPart,
    LLMRequest,
    LLMResult,
    Message,
    ResponseSchema,
    Tool,
    ToolChoice,
)
from fastapi_sentient.pools._http import pool_from_settings, probe_ttl
from fastapi_sentient.resilience._breaker import CircuitBreaker, TransitionListener
from fastapi_sentient.resilience._policy import breaker_config, retry_budget, retry_policy
from fastapi_sentient.resilience._shared import SharedBreakers
from fastapi_sentient.settings import LLMProviderSettings

if TYPE_CHECKING:
    import httpx2

    from fastapi_sentient._lifecycle import Lifecycle
    from fastapi_sentient._redact import Redactor
    from fastapi_sentient._settings_groups import LLMSettings
    from fastapi_sentient.health._registry import HealthRegistry
    from fastapi_sentient.metrics._registry import Metrics
    from fastapi_sentient.pools._base import Pool
    from fastapi_sentient.pools._http import HttpPool

logger = logging.getLogger("fastapi_sentient.llm")


NOT_CONFIGURED = (
    "no LLM provider is configured; set SENTIENT_LLM_PROVIDERS (for example "
    '{"openai": {"kind": "openai", "models": ["gpt-4o-mini"]}} with OPENAI_API_KEY) '
    "or call sentient.llm.add_provider(...)"
)


class ProviderPools(Protocol):
    """What the LLM layer needs of the pool registry: its providers' HTTP pools.

    A provider configured in ``SENTIENT_LLM_PROVIDERS`` finds its pool already
    registered (the pools are built first); one added by
    :meth:`LLMGateway.add_provider` registers its own.
    """

    def __contains__(self, name: object) -> bool: ...

    def get(self, name: str) -> Pool: ...

    def http(self, name: str) -> httpx2.AsyncClient: ...

    def register(self, pool: HttpPool) -> HttpPool: ...


class LLMGateway:
    """``sentient.llm``: the configured providers and routes, and every call through them.

    Also the LLM layer's lifespan component (its health check, shared breaker
    decisions and price updates).
    """

    name = "llm"

    def __init__(
        self,
        *,
        settings: LLMSettings,
        metrics: Metrics,
        health: HealthRegistry,
        lifecycle: Lifecycle,
        redact: Redactor,
        pools: ProviderPools,
        on_transition: TransitionListener,
        redis: Callable[[], Any],
        node_id: str,
        cluster_name: str,
        health_timeout: float,
    ) -> None:
        """Wired by :class:`~fastapi_sentient._sentient.Sentient` after the pools it sends through.

        ``on_transition`` publishes a breaker's state change (the resilience
        layer's metrics, spans and checks); ``redis`` gives the Redis client
        that shares breaker decisions across replicas, or None, once the pools
        have opened; ``cluster_name`` and ``node_id`` name the shared keys and
        their writer.
        """
        s = settings
        self.settings = settings
        self.redact = redact
        self._health = health
        self._lifecycle = lifecycle
        self._pools = pools
        self._publish_transition = on_transition
        self._redis = redis
        self._node_id = node_id
        self._cluster_name = cluster_name
        self._health_timeout = health_timeout
        self.metrics = LLMMetrics(metrics)
        self.providers: dict[str, Provider] = {}
        self.routes: dict[str, list[tuple[str, str]]] = {}
        self.started = False
        policy = policy_settings(s)
        self.breaker_config = breaker_config(policy)
        self.pipeline = Pipeline(
            metrics=self.metrics,
            policy=retry_policy(policy),
            breaker_config=self.breaker_config,
            deadline=s.deadline,
            max_concurrency=s.max_concurrency,
            queue_timeout=s.queue_timeout,
            budget=lambda: retry_budget(policy),
            redact=redact,
            on_transition=self._on_transition,
        )
        self.shared: SharedBreakers | None = None
        self._sync: asyncio.Task[None] | None = None
        self._price_updates: Any = None
        self.check = ProvidersCheck(
            lambda: list(self.providers.values()),
            pools=pools,
            redact=redact,
            probe_generate=s.probe_generate,
        )
        self.sdk = SDKCalls(self)
        for name, entry in s.providers.items():
            self._add_configured(name, entry)
        for route, targets in s.routes.items():
            self.add_route(route, targets, variable="SENTIENT_LLM_ROUTES")

    # --- configuration --------------------------------------------------------------------

    def _add_configured(self, name: str, entry: LLMProviderSettings) -> Provider:
        pools = self._pools
        s = self.settings
        if name not in pools:
            pool, key = pool_from_settings(name, entry, probe_ttl=probe_ttl(s.health_interval))
            self.redact.add(key)
            for value in entry.headers.values():
                self.redact.add(value)  # header values are secrets by construction
            pools.register(pool)
        genai_name = entry.provider_name or entry.kind
        prices = PriceTable({**s.prices, **entry.prices}, provider_id=genai_name)
        options: dict[str, Any] = {"max_tokens": entry.max_tokens}
        if entry.kind == anthropic.KIND:
            options["max_tokens"] = entry.max_tokens or s.anthropic_max_tokens
        elif genai_name in openai.OPENAI_ITSELF:
            options["max_tokens_name"] = "max_completion_tokens"
        return self.register(
            Provider(
                name=name,
                kind=entry.kind,
                adapter=wire_adapter(entry.kind, **options),
                provider_name=entry.provider_name,
                client=lambda: pools.http(name),
                base_url=str(pools.get(name).url),
                models=list(entry.models),
                prices=prices,
                attempt_timeout=entry.timeout,
                critical=entry.critical,
                max_concurrency=entry.max_concurrency or entry.max_connections,
            )
        )

    def add_provider(self, name: str, **options: Any) -> Provider:
        """Add a provider before the app starts; options are those of ``SENTIENT_LLM_PROVIDERS``.

        Example: ``sentient.llm.add_provider("local", kind="openai",
        base_url="http://127.0.0.1:11434/v1", models=["llama3"])``.

        Raises:
            ConfigurationError: after startup, for a duplicate name or invalid options.
        """
        if self.started:
            msg = f"add LLM provider {name!r} before the app starts"
            raise ConfigurationError(msg)
        try:
            entry = LLMProviderSettings(**options)
        except ValidationError as exc:
            # the errors without their input: an option may hold the API key
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or name}: "
                f"{error['msg'].removeprefix('Value error, ')}"
                for error in exc.errors()
            )
            msg = f"invalid options for LLM provider {name!r}: {problems}"
            raise ConfigurationError(msg) from None
        return self._add_configured(name, entry)

    def register(self, provider: Provider) -> Provider:
        """Add a fully built provider (a custom :class:`ProviderAdapter`, your own client)."""
        if provider.name in self.providers:
            msg = f"an LLM provider named {provider.name!r} is already registered"
            raise ConfigurationError(msg)
        if not isinstance(provider.adapter, ProviderAdapter):
            msg = f"provider {provider.name!r}: adapter does not implement ProviderAdapter"
            raise ConfigurationError(msg)
        self.providers[provider.name] = provider
        for model in [*provider.models, "other"]:
            self.pipeline.breaker(Target(provider, model))
        self.metrics.prime(provider.name, [*provider.models, "other"])
        return provider

    def add_route(
        self,
        name: str,
        targets: Iterable[str | tuple[str, str]],
        *,
        variable: str = "add_route",
    ) -> None:
        """Name an ordered fallback list of ``"provider/model"`` targets."""
        parsed: list[tuple[str, str]] = []
        for target in targets:
            if isinstance(target, str):
                provider, _, model = target.partition("/")
            else:
                provider, model = target
            if provider not in self.providers or not model:
                msg = (
                    f"{variable}: route {name!r} target {target!r} must be 'provider/model' "
                    f"with a provider of SENTIENT_LLM_PROVIDERS ({', '.join(self.providers) or 'none'})"
                )
                raise ConfigurationError(msg)
            if model not in self.providers[provider].models:
                self.providers[provider].models.append(model)
                self.pipeline.breaker(Target(self.providers[provider], model))
            parsed.append((provider, model))
        if not parsed:
            msg = f"{variable}: route {name!r} has no targets"
            raise ConfigurationError(msg)
        self.routes[name] = parsed

    def _on_transition(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        self._publish_transition(breaker, old, new)
        if old != new and self.shared is not None:
            self.shared.transitioned(breaker, old, new)

    def breakers(self) -> list[CircuitBreaker]:
        """Every breaker, by provider then model."""
        return [b for p in self.providers.values() for b in p.breakers.values()]

    def share_breakers(self, redis: Any, *, prefix: str | None = None) -> SharedBreakers:
        """Share open/closed decisions through ``redis`` (a ``redis.asyncio.Redis``); fails open."""
        self.shared = SharedBreakers(
            redis,
            prefix=prefix or f"sentient:{{{self._cluster_name}}}:breaker:",
            interval=self.settings.breaker_sync_interval,
            breakers=self.breakers,
            redact=self.redact,
            owner=self._node_id,
        )
        return self.shared

    # --- resolution -----------------------------------------------------------------------

    def resolve(self, provider: str | None, model: str | None) -> tuple[str | None, list[Target]]:
        """The route name (if any) and the ordered targets for a call."""
        if not self.providers:
            raise NoProviderError(NOT_CONFIGURED)
        if provider is not None and provider in self.routes:
            return provider, self._route(provider)
        if provider is not None:
            entry = self.providers.get(provider)
            if entry is None:
                known = ", ".join([*self.providers, *self.routes])
                msg = f"no LLM provider or route named {provider!r} (configured: {known})"
                raise NoProviderError(msg)
            chosen = model or entry.default_model
            if not chosen:
                msg = f"name a model: provider {provider!r} lists none in SENTIENT_LLM_PROVIDERS"
                raise NoProviderError(msg)
            return None, [Target(entry, chosen)]
        if model is not None and model in self.routes:
            return model, self._route(model)
        for entry in self.providers.values():
            if model is not None and model in entry.models:
                return None, [Target(entry, model)]
        if len(self.providers) == 1:
            entry = next(iter(self.providers.values()))
            chosen = model or entry.default_model
            if chosen:
                return None, [Target(entry, chosen)]
        msg = f"no provider serves model {model!r}; name the provider or add a route"
        raise NoProviderError(msg)

    def _route(self, name: str) -> list[Target]:
        return [Target(self.providers[p], m) for p, m in self.routes[name]]

    # --- calls ----------------------------------------------------------------------------

    async def generate(
        self,
        provider: str | None = None,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        request: LLMRequest | None = None,
        system: str | Sequence[ContentPart] | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
        response_schema: ResponseSchema | Mapping[str, Any] | type | None = None,
    ) -> LLMResult:
        """Ask a provider (or a route) for a whole answer.

        ``provider`` names a provider or a route; without it the model picks one.
        Pass either a whole ``request`` (:class:`LLMRequest`) or its fields.  ``messages`` may hold
        content parts (text, images); ``system`` is a system prompt (text or
        text blocks); ``tools`` and ``tool_choice`` offer functions to call, and
        ``result.tool_calls`` holds the calls asked for; ``response_schema`` (a
        JSON schema or a Pydantic model) asks for JSON matching it.

        Raises:
            NoProviderError: nothing configured serves the request.
            UnsupportedRequestError: a target's wire format cannot express the
                request (raised before anything is sent, for every route target).
            CircuitOpenError, ProviderError, ThrottledError, ProviderTimeoutError,
            AllTargetsFailedError: see :mod:`fastapi_sentient.llm`.
        """
        if request is None:
            request = LLMRequest.build(
                model, messages, max_tokens, temperature, parameters, metadata,
                system=system, tools=tools, tool_choice=tool_choice,
                response_schema=response_schema,
            )  # fmt: skip
        route, targets = self.resolve(provider, request.model or None)
        check_translatable(request, targets, stream=False)
        operation = adapter_operation(request, self.redact)
        return await self.pipeline.call(targets, operation, route)

    def stream(
        self,
        provider: str | None = None,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        request: LLMRequest | None = None,
        system: str | Sequence[ContentPart] | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
        response_schema: ResponseSchema | Mapping[str, Any] | type | None = None,
    ) -> LLMStream:
        """Ask for an answer streamed as text chunks: ``async for chunk in sentient.llm.stream(...)``.

        Takes what :meth:`generate` takes.  After the loop, ``.result`` holds
        usage, cost, the tool calls (assembled from their streamed pieces) and
        who served.

        Raises:
            UnsupportedRequestError: at once, as for :meth:`generate`.
        """
        if request is None:
            request = LLMRequest.build(
                model, messages, max_tokens, temperature, parameters, metadata,
                system=system, tools=tools, tool_choice=tool_choice,
                response_schema=response_schema,
            )  # fmt: skip
        route, targets = self.resolve(provider, request.model or None)
        check_translatable(request, targets, stream=True)
        opener = adapter_opener(request, self.redact)
        return LLMStream(self.pipeline.stream(targets, opener, route))

    # --- lifespan -------------------------------------------------------------------------

    async def start(self) -> None:
        """Register the providers check and start sharing breaker decisions."""
        s = self.settings
        if self.providers:
            self._health.add(
                "llm_providers",
                self.check,
                type="llm",
                critical=any(p.critical for p in self.providers.values()),
                interval=s.health_interval,
                timeout=max(self._health_timeout, 10.0),
            )
        if self.shared is None and s.breaker_shared:
            client = self._redis()
            if client is not None:
                self.share_breakers(client)
        if self.shared is not None:
            self._sync = self._lifecycle.spawn(self.shared.run(), "llm-breaker-sync")
        if self.providers and s.prices_update_interval > 0:
            self._price_updates = start_price_updates(s.prices_update_interval, s.prices_update_url)
        self.started = True

    async def stop(self) -> None:
        """Forget the check; pools close the clients."""
        self._health.remove("llm_providers")
        if self._price_updates is not None:
            self._price_updates.stop()
            self._price_updates = None
        if self._sync is not None:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
            self._sync = None
        self.started = False


LLMRegistry = LLMGateway
"""The gateway's former name."""
