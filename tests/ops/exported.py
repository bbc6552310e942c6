"""The metric names a fully configured app exports, and the series names a family implies.

A labelled family with no samples yet shows up in ``/metrics`` only as HELP and
TYPE lines — or not at all — so the exposition alone would miss, say, the
breaker gauge of a provider that has not been called.  The registry knows every
family from the moment it is created; together with the parsed exposition (which
adds the scrape-time collectors' families) that is what the app exports.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import Metric
from prometheus_client.parser import text_string_to_metric_families

from fastapi_sentient import get_sentient
from tests.ops.apps import create_app
from tests.ops.fake_llm import fake_openai, providers_env
from tests.support.asgi import running
from tests.support.redis_server import RedisServer

#: Series Prometheus adds to every target itself.
PROMETHEUS_SERIES = frozenset(
    {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"}
)

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "info": ("_info",),
}


def series_names(families: Iterable[Metric]) -> set[str]:
    """Every sample name the families can produce (``x_total``, ``x_bucket``, …)."""
    names: set[str] = set()
    for family in families:
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


async def _exercise() -> set[str]:
    app = create_app()
    sentient = get_sentient(app)
    async with running(app) as client:
        for path in (
            "/api/agents/a1/ask",
            "/api/agents/a1/stream",
            "/api/store",
        ):
            response = await client.get(path)
            assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        assert (await client.get("/no/such/route")).status_code == 404
        exposition = (await client.get("/metrics")).text
        known = series_names(sentient.metrics.registry.collect())
    return known | series_names(text_string_to_metric_families(exposition))


def exported_names() -> set[str]:
    """Series names of the ops test app with a SQLite DB, a redis-server and a fake provider."""
    redis = RedisServer().start()
    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory() as tmp, fake_openai() as base_url:
            os.environ.update(
                {
                    "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'ops.db'}",
                    "SENTIENT_REDIS_URL": redis.url,
                    "SENTIENT_LLM_PROVIDERS": providers_env(base_url),
                    "SENTIENT_HANDLE_SIGNALS": "false",
                }
            )
            return asyncio.run(_exercise())
    finally:
        os.environ.clear()
        os.environ.update(saved)
        redis.close()
