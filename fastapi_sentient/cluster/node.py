"""How this node describes itself to the others."""

from __future__ import annotations

import signal
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi_sentient.cluster.model import NodeRecord
from fastapi_sentient.signals import find_server

if TYPE_CHECKING:
    from fastapi_sentient.sentient import Sentient


def serving_port(sentient: Sentient) -> int | None:
    """SENTIENT_PORT, else the port found at startup, else uvicorn's, if known."""
    if sentient.settings.port:
        return sentient.settings.port
    if sentient.serving_port:
        return sentient.serving_port
    server = find_server(signal.getsignal(signal.SIGTERM))
    port = getattr(getattr(server, "config", None), "port", None)
    return int(port) if port else None


def describe_node(
    sentient: Sentient, incarnation: str, status: str, started_at: float | None
) -> NodeRecord:
    """This node's member record (heartbeat time is the store's to set)."""
    s = sentient.settings
    return NodeRecord(
        node_id=sentient.node_id,
        incarnation=incarnation,
        address=s.advertise_host or socket.gethostname(),
        port=serving_port(sentient),
        version=s.version,
        roles=tuple(s.cluster_roles),
        status=status,
        started=datetime.fromtimestamp(started_at, UTC) if started_at else None,
    )
