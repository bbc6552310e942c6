"""Per-provider HTTP pools: one ``httpx2.AsyncClient`` per LLM provider.

Each client has explicit limits and timeouts (never the SDKs' silent, generous
defaults), the provider's auth headers (from ``SENTIENT_LLM_PROVIDERS``
or ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``) and a metered transport, so it is
both what our LLM layer sends through and what the official SDKs accept as
``http_client``::

    client = sentient.pools.http("openai")
    sdk = openai.AsyncOpenAI(http_client=client, max_retries=0, api_key=..., base_url=...)

Health is ``GET models`` — free on OpenAI-compatible servers and Anthropic — and
its answer is cached for ``probe_ttl`` so the pool check and the LLM providers
check share one request per interval.  Routes reach a client with the
``http_client("openai")`` dependency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx2

from fastapi_sentient.exceptions import NotStartedError, PoolError
from fastapi_sentient.llm._adapters import DEFAULT_BASE_URLS, auth_headers, resolve_api_key
from fastapi_sentient.pools._base import PoolMetrics, PoolResizeError, PoolStats
from fastapi_sentient.pools._http_transport import MeteredTransport

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from fastapi_sentient._redact import Redactor
    from fastapi_sentient._settings_groups import LLMSettings
    from fastapi_sentient.pools._registry import PoolRegistry
    from fastapi_sentient.settings import LLMProviderSettings

logger = logging.getLogger("fastapi_sentient.pools")

#: Request extension that sends a request past a client's resilience policy (health probes).
UNGUARDED = "sentient.unguarded"


class HttpPool:
    """A provider's pooled ``httpx2.AsyncClient`` (pool kind ``http``)."""

    kind = "http"
    variable = "SENTIENT_LLM_PROVIDERS"
    """The setting that configures this pool, named in error messages."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        max_connections: int = 20,
        max_keepalive_connections: int = 10,
        keepalive_expiry: float = 30.0,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        pool_timeout: float = 5.0,
        health_path: str = "models",
        probe_ttl: float = 60.0,
        warmup: int = 0,
        required: bool = True,
        critical: bool = False,
        wrap_transport: Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport]
        | None = None,
    ) -> None:
        self.name = name
        self._wrap = wrap_transport
        self.url = base_url
        self.required = required
        self.critical = critical
        self.metrics = PoolMetrics(name, self.kind)
        self.max_connections = max_connections
        self.health_path = health_path
        self.probe_ttl = probe_ttl
        self.warmup = max(0, min(warmup, max_keepalive_connections, max_connections))
        self._headers = dict(headers or {})
        self._limits = httpx2.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(max_keepalive_connections, max_connections),
            keepalive_expiry=keepalive_expiry,
        )
        self._timeout = httpx2.Timeout(timeout, connect=connect_timeout, pool=pool_timeout)
        self._client: httpx2.AsyncClient | None = None
        self._transport: MeteredTransport | None = None
        self._probe: tuple[float, httpx2.Response] | None = None
        self._probing: asyncio.Task[httpx2.Response] | None = None

    @property
    def client(self) -> httpx2.AsyncClient:
        """The pooled client (between startup and shutdown)."""
        if self._client is None:
            msg = f"HTTP pool {self.name!r} is not open; use it inside the app's lifespan"
            raise NotStartedError(msg)
        return self._client

    async def open(self) -> None:
        """Build the client and warm its connections (bounded: an outage never blocks startup)."""
        if self._client is not None:
            return
        self._transport = MeteredTransport(
            httpx2.AsyncHTTPTransport(limits=self._limits),
            name=self.name,
            capacity=self.max_connections,
            pool_timeout=self._timeout.pool or 5.0,
            metrics=self.metrics,
            variable=self.variable,
        )
        transport: httpx2.AsyncBaseTransport = self._transport
        if self._wrap is not None:
            transport = self._wrap(transport)
        self._client = httpx2.AsyncClient(
            base_url=self.url,
            headers=self._headers,
            timeout=self._timeout,
            transport=transport,
        )
        if self.warmup:
            await self._warm()

    async def _warm(self) -> None:
        """Open ``warmup`` connections before readiness with concurrent unbilled probes.

        Without this the first calls after a rollout pay DNS, TCP and TLS while
        ``/ready`` already says 200.  The probes' answer also fills the probe
        cache, so the first health check costs nothing more.
        """
        bound = 2 * (self._timeout.connect or 5.0)
        failure: str | None = None
        try:
            async with asyncio.timeout(bound):
                results = await asyncio.gather(
                    *(self._fetch_probe() for _ in range(self.warmup)), return_exceptions=True
                )
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                failure = f"{type(errors[0]).__name__}: {errors[0]}"
        except TimeoutError:
            failure = f"no answer within {bound:g}s"
        if failure is not None:
            logger.warning(
                "HTTP pool %s: warm-up failed (%s); its first calls will connect themselves",
                self.name,
                failure,
            )

    async def close(self) -> None:
        """Close the client and every connection."""
        client, self._client = self._client, None
        self._probe = None
        if client is not None:
            await client.aclose()

    async def probe(self) -> httpx2.Response:
        """``GET <health_path>``, cached for ``probe_ttl`` and shared by concurrent callers."""
        cached = self._probe
        if cached is not None and time.monotonic() - cached[0] < self.probe_ttl:
            return cached[1]
        if self._probing is None or self._probing.done():
            self._probing = asyncio.get_running_loop().create_task(self._fetch_probe())
        return await asyncio.shield(self._probing)

    async def _fetch_probe(self) -> httpx2.Response:
        # a probe reports the dependency; it is not a sample of its breaker
        response = await self.client.get(self.health_path, extensions={UNGUARDED: True})
        self._probe = (time.monotonic(), response)
        return response

    async def ping(self) -> None:
        """The unbilled probe; a 4xx/5xx answer (401 bad key, 404 wrong URL) fails it."""
        response = await self.probe()
        if response.status_code >= 400:
            msg = f"GET {self.health_path} answered {response.status_code}"
            raise PoolError(msg)

    def stats(self) -> PoolStats:
        """Connections open/idle from httpcore, callers in use/waiting from the gate."""
        transport = self._transport
        if transport is None or self._client is None:
            size = idle = in_use = 0
        else:
            transport.reconcile()
            size, idle = transport.open_counts()
            in_use = transport.gate.in_use
        return self.metrics.snapshot(
            size=size, max_size=self.max_connections, in_use=in_use, idle=idle
        )

    async def recycle(self) -> None:
        """Drop idle connections; busy ones finish their request and are replaced later."""
        await self.drain()

    async def drain(self) -> int:
        """Close idle connections; httpcore drops closed ones on its next pass."""
        transport = self._transport
        if transport is None:
            return 0
        closing = [c for c in transport.connections() if _idle(c)]
        for connection in closing:
            await connection.aclose()
        transport.reconcile()
        return len(closing)

    def instrument(self, tracer_provider: TracerProvider) -> bool:
        """A CLIENT span per request (each retry its own), from the client's event hooks."""
        from fastapi_sentient.tracing._clients import HttpClientSpans, pool_tracer

        HttpClientSpans(pool_tracer(tracer_provider), self.client)
        return True

    async def resize(self, size: int) -> None:
        """Change the cap, up to the ``max_connections`` the client was built with."""
        if not 1 <= size <= self.max_connections:
            msg = (
                f"HTTP pool {self.name!r} can be resized within 1..{self.max_connections}; "
                f"raise max_connections in {self.variable} and restart for more"
            )
            raise PoolResizeError(msg)
        if self._transport is not None:
            self._transport.gate.resize(size)


def _idle(connection: Any) -> bool:
    try:
        return bool(connection.is_idle())
    except Exception:  # noqa: BLE001  private connection objects: a failure reads as busy
        return False


def pool_from_settings(
    name: str, provider: LLMProviderSettings, *, probe_ttl: float
) -> tuple[HttpPool, str | None]:
    """The pool of one ``SENTIENT_LLM_PROVIDERS`` entry, and its resolved API key."""
    key = resolve_api_key(
        provider.kind, provider.api_key.get_secret_value() if provider.api_key else None
    )
    headers = {**provider.headers, **auth_headers(provider.kind, key, provider.anthropic_version)}
    pool = HttpPool(
        name,
        provider.base_url or DEFAULT_BASE_URLS[provider.kind],
        headers=headers,
        max_connections=provider.max_connections,
        max_keepalive_connections=provider.max_keepalive_connections,
        keepalive_expiry=provider.keepalive_expiry,
        timeout=provider.timeout,
        connect_timeout=provider.connect_timeout,
        pool_timeout=provider.pool_timeout,
        health_path=provider.health_path,
        probe_ttl=probe_ttl,
        warmup=provider.warmup,
        critical=provider.critical,
    )
    return pool, key


def register_http_pools(llm: LLMSettings, *, registry: PoolRegistry, redactor: Redactor) -> None:
    """Register one HTTP pool per provider of ``SENTIENT_LLM_PROVIDERS`` (kind ``"http"``)."""
    ttl = probe_ttl(llm.health_interval)
    for name, provider in llm.providers.items():
        pool, key = pool_from_settings(name, provider, probe_ttl=ttl)
        redactor.add(key)
        registry.register(pool)


def probe_ttl(interval: float) -> float:
    """Cache a probe for just under the LLM health interval, so each run probes once."""
    return max(interval * 0.9, 0.5)
