"""The LLM providers check: per-provider status from a free probe, never a billed call.

Each provider is probed with ``GET models`` through its own pool (the answer is
cached, so the pool's own check and this one share one request per interval).
A 2xx is healthy; 429 is degraded (reachable, key valid, rate limited); any
other 4xx — 400, 401, 403, 404 — is *unhealthy*: a wrong key or URL answers fast
and must never read as "reachable".  A provider whose breakers are open is at
most degraded, since real traffic is failing whatever the probe says.  One
failing provider is not an outage: all unhealthy → unhealthy, some → degraded.
A provider marked ``critical`` that is unhealthy makes the whole check
unhealthy (only then does it gate readiness).  ``SENTIENT_LLM_PROBE_GENERATE``
switches to a ``max_tokens=1`` completion, which is billed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi_sentient.health._result import CheckResult, HealthStatus
from fastapi_sentient.llm._breaker import BreakerState
from fastapi_sentient.llm._types import LLMRequest

if TYPE_CHECKING:
    from fastapi_sentient.llm._gateway import ProviderPools
    from fastapi_sentient.llm._provider import Provider

PROBE_TIMEOUT = 8.0


class ProvidersCheck:
    """The async callable registered as the ``llm_providers`` health check."""

    def __init__(
        self,
        providers: Callable[[], list[Provider]],
        *,
        pools: ProviderPools,
        redact: Callable[[str], str],
        probe_generate: bool = False,
    ) -> None:
        self._providers = providers
        self._pools = pools
        self._redact = redact
        self.probe_generate = probe_generate

    async def __call__(self) -> CheckResult:
        providers = self._providers()
        reports = await asyncio.gather(*(self._one(p) for p in providers))
        by_name = {p.name: r for p, r in zip(providers, reports, strict=True)}
        statuses = [r["status"] for r in reports]
        healthy = statuses.count(HealthStatus.HEALTHY.value)
        unhealthy = statuses.count(HealthStatus.UNHEALTHY.value)
        critical_down = any(
            p.critical and by_name[p.name]["status"] == HealthStatus.UNHEALTHY.value
            for p in providers
        )
        if critical_down or (unhealthy and unhealthy == len(statuses)):
            status = HealthStatus.UNHEALTHY
        elif healthy == len(statuses):
            status = HealthStatus.HEALTHY
        else:
            status = HealthStatus.DEGRADED
        failing = [f"{name}: {r['error']}" for name, r in by_name.items() if r.get("error")]
        return CheckResult(
            status=status,
            details={
                "providers": by_name,
                "totalProviders": len(providers),
                "healthyProviders": healthy,
            },
            error="; ".join(failing) if status == HealthStatus.UNHEALTHY else None,
        )

    async def _one(self, provider: Provider) -> dict[str, Any]:
        redact = self._redact
        started = time.perf_counter()
        report: dict[str, Any] = {"kind": provider.kind, "critical": provider.critical}
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                if self.probe_generate:
                    code = await self._generate(provider)
                else:
                    code = await self._models(provider)
        except Exception as exc:  # noqa: BLE001  any probe failure is an unhealthy provider
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            report.update(status=HealthStatus.UNHEALTHY.value, error=redact(text))
        else:
            report["statusCode"] = code
            if code < 400:
                report["status"] = HealthStatus.HEALTHY.value
            elif code == 429:
                report["status"] = HealthStatus.DEGRADED.value
                report["error"] = "rate limited (429)"
            else:
                report["status"] = HealthStatus.UNHEALTHY.value
                report["error"] = f"probe answered {code}"
        report["responseTime"] = round(time.perf_counter() - started, 6)
        breakers = {label: b.snapshot() for label, b in provider.breakers.items()}
        report["breakers"] = breakers
        opened = [b for b in provider.breakers.values() if b.state != BreakerState.CLOSED]
        if opened and report["status"] == HealthStatus.HEALTHY.value:
            report["status"] = HealthStatus.DEGRADED.value
            report["error"] = "circuit open: " + ", ".join(b.name for b in opened)
        return report

    async def _models(self, provider: Provider) -> int:
        pool = self._pools.get(provider.name) if provider.name in self._pools else None
        probe = getattr(pool, "probe", None)
        if probe is not None:
            response = await probe()
        else:
            response = await provider.client().get("models")
        return int(response.status_code)

    async def _generate(self, provider: Provider) -> int:
        """The generating probe: one billed completion with max_tokens=1 (opt-in only)."""
        from fastapi_sentient.llm._errors import ProviderError, ThrottledError

        model = provider.default_model or "default"
        request = LLMRequest(
            model=model,
            messages=[{"role": "user", "content": "health check"}],
            parameters={"max_tokens": 1, "temperature": 0},
            metadata={"healthCheck": True},
        )
        try:
            await provider.adapter.complete(
                provider.client(), request, provider=provider.name, redact=self._redact
            )
        except ThrottledError:
            return 429
        except ProviderError as exc:
            return exc.status
        return 200
