"""A check that opens a TCP connection, optionally speaking the first bytes of a protocol.

A bare connect proves that something listens.  Sending a protocol's greeting
and matching the first bytes of the answer proves that the right server
listens and is serving: an AMQP 0-9-1 broker answers the protocol header with a
``Connection.Start`` method frame, and a NATS server greets every client with
an ``INFO`` line.  Both are done by :func:`amqp_check` and :func:`nats_check`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi_sentient.health._result import CheckResult, HealthStatus

#: AMQP 0-9-1 protocol header; the broker answers with a method frame (type 1, channel 0).
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
AMQP_METHOD_FRAME = b"\x01\x00\x00"


class TcpCheck:
    """Healthy when ``host:port`` accepts a connection (and answers ``expect`` to ``send``).

    Args:
        host: server address.
        port: server port.
        send: bytes written after connecting (e.g. a protocol header).
        expect: prefix the server's first bytes must start with.
        timeout: time limit of connect + exchange, seconds.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        send: bytes = b"",
        expect: bytes = b"",
        timeout: float = 3.0,
    ) -> None:
        self.host = host
        self.port = port
        self.send = send
        self.expect = expect
        self.timeout = timeout

    async def __call__(self) -> CheckResult:
        started = time.perf_counter()
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            connected = time.perf_counter() - started
            try:
                details: dict[str, object] = {
                    "host": self.host,
                    "port": self.port,
                    "connectTime": round(connected, 6),
                }
                if self.send:
                    writer.write(self.send)
                    await writer.drain()
                if not self.expect:
                    return CheckResult(details=details)
                first = await reader.read(max(len(self.expect), 64))
                if first.startswith(self.expect):
                    return CheckResult(details=details)
                return CheckResult(
                    status=HealthStatus.UNHEALTHY,
                    error=f"unexpected greeting from {self.host}:{self.port}: {first[:16]!r}",
                    details=details,
                )
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


def amqp_check(host: str = "127.0.0.1", port: int = 5672, *, timeout: float = 3.0) -> TcpCheck:
    """An AMQP 0-9-1 broker (RabbitMQ) answers the protocol header with Connection.Start."""
    return TcpCheck(host, port, send=AMQP_HEADER, expect=AMQP_METHOD_FRAME, timeout=timeout)


def nats_check(host: str = "127.0.0.1", port: int = 4222, *, timeout: float = 3.0) -> TcpCheck:
    """A NATS server greets each client with an ``INFO {...}`` line."""
    return TcpCheck(host, port, expect=b"INFO ", timeout=timeout)
