"""Throwaway Redis topologies on loopback: a 3-primary Redis Cluster, a primary watched by Sentinels."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis

from tests.support.procs import free_port, port_open, wait_until
from tests.support.redis_server import RedisServer, require_binary


@contextmanager
def redis_cluster(
    password: str | None = None, primaries: int = 3, replicas: int = 0
) -> Iterator[list[RedisServer]]:
    """Primaries (and ``replicas`` per primary) joined with ``redis-cli --cluster create``."""
    cli = require_binary("redis-cli", "redis-tools")
    auth = ["--requirepass", password, "--masterauth", password] if password else []
    # an explicit bus port: the default (port + 10000) overflows for high free ports
    servers: list[RedisServer] = []
    try:
        for _ in range(primaries * (1 + replicas)):
            extra = ["--cluster-enabled", "yes", "--cluster-port", str(free_port()), *auth]
            servers.append(RedisServer(extra=extra).start())
        subprocess.run(
            [
                cli,
                *(["-a", password, "--no-auth-warning"] if password else []),
                "--cluster",
                "create",
                *(f"127.0.0.1:{s.port}" for s in servers),
                "--cluster-replicas",
                str(replicas),
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

        def all_ok() -> bool:
            for server in servers:
                client = redis.Redis(port=server.port, password=password, decode_responses=True)
                try:
                    if client.cluster("info")["cluster_state"] != "ok":
                        return False
                finally:
                    client.close()
            return True

        wait_until(all_ok, 30, 0.1, "cluster_state:ok")
        yield servers
    finally:
        for server in servers:
            server.close()


@contextmanager
def redis_sentinel(
    password: str | None = None, service: str = "mymaster"
) -> Iterator[tuple[RedisServer, int]]:
    """A primary watched by one Sentinel (quorum 1); yields the primary and the Sentinel's port."""
    primary = RedisServer(extra=["--requirepass", password] if password else []).start()
    try:
        with _sentinel(primary, password, service) as port:
            yield primary, port
    finally:
        primary.close()


@contextmanager
def redis_sentinel_with_replica(
    password: str | None = None, service: str = "mymaster"
) -> Iterator[tuple[RedisServer, RedisServer, int]]:
    """A primary, its replica and a Sentinel that fails over half a second after the primary dies."""
    auth = ["--requirepass", password, "--masterauth", password] if password else []
    primary = RedisServer(extra=auth).start()
    replica: RedisServer | None = None
    try:
        replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(primary.port), *auth])
        replica.start()
        client = redis.Redis(port=primary.port, password=password, decode_responses=True)
        try:
            wait_until(
                lambda: client.info("replication")["connected_slaves"] == 1, 10, 0.05, "replica"
            )
        finally:
            client.close()
        with _sentinel(primary, password, service, down_after_ms=500) as port:
            sentinel = redis.Redis(port=port, decode_responses=True)
            try:
                # a failover needs a replica the Sentinel has already seen healthy
                wait_until(
                    lambda: any(
                        r["is_slave"] and not r["is_sdown"] and not r["is_disconnected"]
                        for r in sentinel.sentinel_slaves(service)
                    ),
                    10,
                    0.05,
                    "the Sentinel to see the replica",
                )
            finally:
                sentinel.close()
            yield primary, replica, port
    finally:
        if replica is not None:
            replica.close()
        primary.close()


@contextmanager
def sentinel_group(
    sentinels: int = 3, quorum: int = 2, down_after_ms: int = 2000, service: str = "mymaster"
) -> Iterator[tuple[RedisServer, RedisServer, list[int]]]:
    """A primary, one replica and ``sentinels`` Sentinels that fail over by ``quorum`` votes.

    Yields the primary, the replica and the Sentinels' ports once every
    Sentinel sees the replica healthy (a failover needs one it has seen).
    """
    primary = RedisServer().start()
    replica: RedisServer | None = None
    try:
        replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
        client = redis.Redis(port=primary.port, decode_responses=True)
        try:
            wait_until(
                lambda: client.info("replication")["connected_slaves"] == 1, 10, 0.05, "replica"
            )
        finally:
            client.close()
        with ExitStack() as stack:
            ports = [
                stack.enter_context(_sentinel(primary, None, service, down_after_ms, quorum))
                for _ in range(sentinels)
            ]
            for port in ports:
                sentinel = redis.Redis(port=port, decode_responses=True)
                try:
                    wait_until(
                        lambda s=sentinel: (
                            any(  # type: ignore[misc]
                                r["is_slave"] and not r["is_sdown"] and not r["is_disconnected"]
                                for r in s.sentinel_slaves(service)
                            )
                            and s.sentinel_master(service)["num-other-sentinels"] >= sentinels - 1
                        ),
                        20,
                        0.05,
                        "every Sentinel to see the replica and the other Sentinels",
                    )
                finally:
                    sentinel.close()
            yield primary, replica, ports
    finally:
        if replica is not None:
            replica.close()
        primary.close()


@contextmanager
def _sentinel(
    primary: RedisServer,
    password: str | None,
    service: str,
    down_after_ms: int | None = None,
    quorum: int = 1,
) -> Iterator[int]:
    """A ``redis-server --sentinel`` monitoring ``primary`` with ``quorum``; yields its port."""
    binary = require_binary("redis-server", "redis-server")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="sentinel-"))
    conf = workdir / "sentinel.conf"
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {workdir}",
        f"sentinel monitor {service} 127.0.0.1 {primary.port} {quorum}",
    ]
    if password:
        lines.append(f"sentinel auth-pass {service} {password}")
    if down_after_ms is not None:
        lines.append(f"sentinel down-after-milliseconds {service} {down_after_ms}")
        lines.append(f"sentinel failover-timeout {service} 10000")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: port_open(port), 10, what="sentinel")
        yield port
    finally:
        proc.kill()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
