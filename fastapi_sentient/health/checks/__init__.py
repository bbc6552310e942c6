"""A catalogue of ready-made health checks for the dependencies an agent service has.

Each is an async callable to register with the health registry::

    from fastapi_sentient.health.checks import VaultCheck, amqp_check

    sentient.health.add("vault", VaultCheck("http://vault:8200"), type="dependency")
    sentient.health.add("rabbitmq", amqp_check("rabbitmq", 5672), critical=False)

Pools (database, Redis, LLM providers) get their checks automatically; these
cover the rest: any HTTP endpoint, any TCP service, HashiCorp Vault, object
storage, message queues and a Redis session store.
"""

from __future__ import annotations

from fastapi_sentient.health.checks._http import HttpCheck
from fastapi_sentient.health.checks._queue import nats_health_check, rabbitmq_check
from fastapi_sentient.health.checks._session import SessionStoreCheck
from fastapi_sentient.health.checks._storage import ObjectStorageCheck
from fastapi_sentient.health.checks._tcp import TcpCheck, amqp_check, nats_check
from fastapi_sentient.health.checks._vault import VaultCheck

__all__ = [
    "HttpCheck",
    "ObjectStorageCheck",
    "SessionStoreCheck",
    "TcpCheck",
    "VaultCheck",
    "amqp_check",
    "nats_check",
    "nats_health_check",
    "rabbitmq_check",
]
