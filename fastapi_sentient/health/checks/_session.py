"""The session store: a Redis round trip that writes, reads back and deletes a probe key.

``PING`` proves the server answers; a session store must also accept writes (a
replica, a full ``maxmemory`` with ``noeviction`` or a read-only failover answers
``PING`` but refuses ``SET``).  The probe key is unique per run, expires on its
own, and is deleted afterwards, so the check leaves nothing behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi_sentient.health._result import CheckResult, HealthStatus

if TYPE_CHECKING:
    from redis.asyncio import Redis


class SessionStoreCheck:
    """PING, then SET/GET/DEL of a short-lived key.

    Args:
        client: a ``redis.asyncio.Redis``, or a zero-argument callable returning
            one (e.g. ``lambda: sentient.pools.redis.client``, resolved at each
            run because the pool opens with the app).
        prefix: namespace of the probe keys.
        ttl_ms: expiry of a probe key, in case the delete never runs.
    """

    def __init__(
        self,
        client: Redis | Callable[[], Redis],
        *,
        prefix: str = "sentient:health:session:",
        ttl_ms: int = 10_000,
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.ttl_ms = ttl_ms

    def _resolve(self) -> Redis:
        from redis.asyncio import Redis

        client = self._client
        return client if isinstance(client, Redis) else client()

    async def __call__(self) -> CheckResult:
        client = self._resolve()
        started = time.perf_counter()
        await client.ping()
        ping = time.perf_counter() - started
        key = f"{self.prefix}{uuid.uuid4().hex}"
        token = uuid.uuid4().hex
        await client.set(key, token, px=self.ttl_ms)
        try:
            echoed = await client.get(key)
        finally:
            await client.delete(key)
        details = {
            "ping": round(ping, 6),
            "roundTrip": round(time.perf_counter() - started, 6),
        }
        value = echoed.decode() if isinstance(echoed, bytes) else echoed
        if value != token:
            return CheckResult(
                status=HealthStatus.UNHEALTHY,
                error="the probe key read back a different value",
                details=details,
            )
        return CheckResult(details=details)
