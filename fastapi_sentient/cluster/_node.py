"""How this node names and describes itself to the others.

The node id is built here and nowhere else: the cluster, the health report's
``instanceId`` and the logs all name a process the same way.
"""

from __future__ import annotations

import os
import signal
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi_sentient._signals import find_server
from fastapi_sentient.cluster._model import NodeRecord

if TYPE_CHECKING:
    from fastapi_sentient._settings_groups import IdentitySettings


def default_node_id(identity: IdentitySettings, port: int | None) -> str:
    """``SENTIENT_NODE_ID``, else ``host:port:pid`` (port 0 while it is unknown).

    The pid is part of it because every worker process of a server runs the
    lifespan, so each is a node of its own.
    """
    return identity.node_id or f"{socket.gethostname()}:{port or 0}:{os.getpid()}"


def serving_port(configured: int | None, found: int | None) -> int | None:
    """SENTIENT_PORT, else the port found at startup, else uvicorn's, if known."""
    if configured:
        return configured
    if found:
        return found
    server = find_server(signal.getsignal(signal.SIGTERM))
    port = getattr(getattr(server, "config", None), "port", None)
    return int(port) if port else None


def describe_node(
    identity: IdentitySettings,
    roles: tuple[str, ...] | list[str],
    node_id: str,
    port: int | None,
    *,
    incarnation: str,
    status: str,
    started_at: float | None,
) -> NodeRecord:
    """This node's member record (heartbeat time is the store's to set)."""
    return NodeRecord(
        node_id=node_id,
        incarnation=incarnation,
        address=identity.advertise_host or socket.gethostname(),
        port=port,
        version=identity.version,
        roles=tuple(roles),
        status=status,
        started=datetime.fromtimestamp(started_at, UTC) if started_at else None,
    )
