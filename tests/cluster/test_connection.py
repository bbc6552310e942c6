"""Redis URLs of every topology, and the coordinator's own bounded, retry-free client."""

from __future__ import annotations

import time

import pytest

from fastapi_sentient.cluster._connection import open_client, parse_redis_url
from fastapi_sentient.cluster._errors import ClusterUnavailableError
from fastapi_sentient.cluster._keys import Keys
from fastapi_sentient.cluster._store import Store
from fastapi_sentient.exceptions import ConfigurationError
from tests.support.redis_server import RedisServer


def test_standalone_sentinel_and_cluster_urls() -> None:
    """redis://, rediss://, redis+sentinel:// and redis+cluster:// are understood."""
    plain = parse_redis_url("redis://:pw@cache:6380/2")
    assert (plain.kind, plain.ssl) == ("standalone", False)
    assert parse_redis_url("rediss://cache").ssl
    sentinel = parse_redis_url("redis+sentinel://user:p%40ss@s1:26380,s2/mymaster/3")
    assert sentinel.kind == "sentinel"
    assert sentinel.hosts == (("s1", 26380), ("s2", 26379))
    assert (sentinel.service, sentinel.db, sentinel.username, sentinel.password) == (
        "mymaster",
        3,
        "user",
        "p@ss",
    )
    cluster = parse_redis_url("rediss+cluster://:pw@n1:7000,n2:7001,[::1]:7002")
    assert cluster.kind == "cluster"
    assert cluster.ssl
    assert cluster.hosts == (("n1", 7000), ("n2", 7001), ("::1", 7002))
    assert "pw" not in cluster.display


@pytest.mark.parametrize(
    "url",
    [
        "localhost:6379",
        "memcached://x",
        "redis+sentinel://s1:26379",
        "redis+cluster://",
        "redis+cluster://n1:x",
    ],
)
def test_bad_urls_name_the_variable_without_the_password(url: str) -> None:
    """A URL the coordinator cannot use is refused with a line naming SENTIENT_REDIS_URL."""
    with pytest.raises(ConfigurationError) as caught:
        parse_redis_url(url.replace("://", "://:hunter2@") if "://" in url else url)
    assert "SENTIENT_REDIS_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.integration
async def test_a_stopped_server_fails_one_call_within_the_call_timeout(
    redis_proc: RedisServer,
) -> None:
    """Against a SIGSTOPped server one call fails, once, in about the call timeout (no client retries)."""
    client = open_client(parse_redis_url(redis_proc.url), timeout=0.2, connect_timeout=0.2)
    store = Store(client, Keys.for_cluster("t"), timeout=0.2, lease_ms=1000, node_ttl_ms=1000)
    assert await store.renew("nobody") is False
    redis_proc.pause()
    try:
        started = time.monotonic()
        with pytest.raises(ClusterUnavailableError, match="within 0.2s|Timeout"):
            await store.renew("nobody")
        assert time.monotonic() - started < 10.0  # a stopped server never answers: did not hang
    finally:
        redis_proc.resume()
    assert await store.renew("nobody") is False  # the client recovers by itself
    await client.aclose()
