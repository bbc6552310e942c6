"""fastapi_sentient as one node of a Redis-backed cluster, for the failover measurement.

``GET /bench/leader`` reports what this node believes: its id, whether it leads,
and the fencing epoch.  Cluster timings come from ``SENTIENT_*`` variables set
by the harness.
"""

from __future__ import annotations

from typing import Any

from bench.apps.common import create_app
from fastapi_sentient import include_plugin

app = create_app()
sentient = include_plugin(app)


@app.get("/bench/leader")
async def leader() -> dict[str, Any]:
    cluster = sentient.cluster
    return {
        "node_id": cluster.node_id,
        "is_leader": bool(cluster.is_leader),
        "epoch": cluster.epoch,
        "backend": f"{type(cluster).__module__}.{type(cluster).__qualname__}",
        "has_members": callable(getattr(cluster, "members", None)),
    }
