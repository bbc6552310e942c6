"""Which ASGI server runs us, and which port it listens on.

ASGI tells the app nothing about its server before the first request, but the
node id (host:port:pid) is needed at startup, when the cluster registers this
process.  The sockets the process holds are the one answer most servers
agree on: gunicorn, ``uvicorn --workers`` and hypercorn bind before the app
starts.  Plain uvicorn binds after lifespan startup, so there its own
configuration is read instead; granian's workers bind only once they serve,
so there its command line (inherited by its forked workers) tells.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger("fastapi_sentient")

# Checked in this order: gunicorn runs uvicorn's server inside its workers, so it must win.
_SERVERS = ("granian", "hypercorn", "gunicorn", "uvicorn")
_INET = (socket.AF_INET, socket.AF_INET6)


def server_name() -> str:
    """The serving ASGI server as far as the loaded modules tell, or ``"unknown"``."""
    for name in _SERVERS:
        if name in sys.modules:
            return name
    return "unknown"


def listening_ports() -> set[int]:
    """TCP ports this process listens on, or has bound to listen on.

    Read from the process's own socket descriptors: a server may bind before
    lifespan startup and listen only after it (hypercorn), which the kernel's
    connection tables do not show.  Connected sockets (clients) are skipped.
    """
    ports: set[int] = set()
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    try:
        fds = [int(name) for name in os.listdir(fd_dir)]
    except OSError:  # pragma: no cover - no descriptor directory on this platform
        return ports
    for fd in fds:
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            if sock.type != socket.SOCK_STREAM or sock.family not in _INET:
                continue
            try:
                sock.getpeername()
            except OSError:
                port = sock.getsockname()[1]
                if port:
                    ports.add(int(port))
    return ports


def detect_port(uvicorn_server: Any, exclude: set[int] | None = None) -> int | None:
    """The port this process serves on, or None when it cannot be told."""
    listening = listening_ports() - (exclude or set())
    if not listening and server_name() == "granian":
        return _granian_port(sys.argv, os.environ)
    config = getattr(uvicorn_server, "config", None)
    configured = getattr(config, "port", None)
    by_config = (
        configured
        if configured and getattr(config, "fd", None) is None and not getattr(config, "uds", None)
        else None
    )
    if by_config and (not listening or by_config in listening):
        return int(by_config)
    if len(listening) == 1:
        return next(iter(listening))
    if listening:
        logger.debug("several listening ports %s: set SENTIENT_PORT", sorted(listening))
    return None


def _granian_port(argv: Sequence[str], environ: Mapping[str, str]) -> int | None:
    """granian's port from its command line, which its forked workers inherit.

    Its workers bind their listener only once they serve, after lifespan startup,
    and nothing else in the process knows the port yet.
    """
    for index, arg in enumerate(argv):
        if arg == "--port" and index + 1 < len(argv):
            value: str | None = argv[index + 1]
            break
        if arg.startswith("--port="):
            value = arg.partition("=")[2]
            break
    else:
        value = environ.get("GRANIAN_PORT", "8000" if "granian" in " ".join(argv[:1]) else None)
    return int(value) if value and value.isdigit() else None
