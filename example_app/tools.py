"""An agent's tool calls, each under a resilience policy: a web search API and a vector index.

The search API is a named HTTP client — set, for instance::

    SENTIENT_HTTP_CLIENTS='{"search": {"base_url": "https://search.example/v1",
        "secret_headers": {"Authorization": "SEARCH_API_TOKEN"},
        "policy": {"deadline": 5, "max_concurrency": 20}}}'

and every request through it runs under that policy.  Without it the tool
answers from the index alone.  The index stands in for a vector database (it
lives in memory so ``make run`` needs nothing); its lookup is guarded with the
decorator, so it gets the ``vector-db`` breaker, retries and deadline all the same.
An open breaker raises ``CircuitOpenError``, which this route lets through: the
caller gets a 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from fastapi_sentient import Sentient

CORPUS = {
    "doc-drain": "drain in-flight requests before the pod stops",
    "doc-breaker": "a circuit breaker stops calls to a failing dependency",
    "doc-retry": "retries with jitter and a budget",
}


def tools_router(sentient: Sentient) -> APIRouter:
    """The tool routes, guarded by ``sentient``'s policies."""
    router = APIRouter()

    @sentient.resilience.guard("vector-db", deadline=2.0, max_concurrency=32)
    async def nearest(query: str, k: int = 2) -> list[str]:
        await asyncio.sleep(0)  # a real vector database is a network call
        words = set(query.lower().split())
        scored = sorted(CORPUS, key=lambda doc: -len(words & set(CORPUS[doc].split())))
        return scored[:k]

    @router.get("/agents/{agent_id}/tools/search")
    async def search(agent_id: str, q: str) -> dict[str, Any]:
        """What the agent's search tool returns: index hits, and web results when configured."""
        hits = await nearest(q)
        web: Any = None
        if "search" in sentient.pools:
            response = await sentient.pools.http("search").get("/search", params={"q": q})
            web = response.json() if response.is_success else {"status": response.status_code}
        return {"agent": agent_id, "index": hits, "web": web}

    return router
