"""The management listener: probes, ``/metrics`` and ``/drain`` on a port of their own.

``SENTIENT_MANAGEMENT_PORT`` is Spring Boot's ``management.server.port``: a
second listener, in the same process and event loop, that the Kubernetes
Service does not expose.  kubelet (probes, ``preStop``) and Prometheus reach
the pod IP on any container port; a client of the Service cannot reach this
one, so draining the pod or reading its metrics needs no credential that would
have to be written into the manifest.

It is a uvicorn ``Server`` of its own serving a tiny ASGI app, started first in
the app's lifespan (so probes answer while the pools connect) and stopped last
(so ``preStop`` and the probes are answered for the whole drain).  The socket
is bound with ``SO_REUSEPORT``: under ``uvicorn --workers N`` or gunicorn every
worker listens on it and the kernel spreads connections, exactly as on the app
port, so a probe is answered by whichever worker takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_sentient.exceptions import StartupError

logger = logging.getLogger("fastapi_sentient.management")

_NOT_FOUND = b'{"error":"not found"}'


class ManagementApp:
    """Routes the management paths to their endpoints; everything else is 404."""

    def __init__(self, endpoints: Mapping[str, ASGIApp]) -> None:
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan, no websockets here
        endpoint = self.endpoints.get(scope["path"])
        if endpoint is not None:
            await endpoint(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_NOT_FOUND)).encode()),
        ]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": _NOT_FOUND})


def _server_class() -> type[Any]:
    import uvicorn

    class _QuietServer(uvicorn.Server):
        """A uvicorn server that leaves the process's signal handlers to the app's server."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def install_signal_handlers(self) -> None:
            return

    return _QuietServer


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket shared with the other workers of this process group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ManagementServer:
    """Serves :class:`ManagementApp` on ``host:port`` for the duration of the lifespan."""

    def __init__(self, endpoints: Mapping[str, ASGIApp], *, host: str, port: int) -> None:
        self.app = ManagementApp(endpoints)
        self.host = host
        self.port = port
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; a port that cannot be bound stops startup with one line."""
        import uvicorn

        try:
            sock = bind(self.host, self.port)
        except OSError as exc:
            msg = (
                f"SENTIENT_MANAGEMENT_PORT={self.port}: cannot listen on "
                f"{self.host}:{self.port}: {exc.strerror or exc}"
            )
            raise StartupError(msg) from None
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _server_class()(config)
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[sock]), name="sentient:management"
        )
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises what stopped it
                msg = f"SENTIENT_MANAGEMENT_PORT={self.port}: the listener stopped at startup"
                raise StartupError(msg)
            await asyncio.sleep(0.01)
        logger.info("management listener on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Close the listener and wait for it (a second of grace for open probes)."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await task
        except Exception:
            logger.exception("management listener failed while stopping")
