"""fastapi_sentient: production infrastructure for FastAPI services, installed with one call.

    from fastapi import FastAPI
    from fastapi_sentient import include_plugin

    app = FastAPI()
    sentient = include_plugin(app)

See ``docs/quickstart.md``.
"""

from typing import TYPE_CHECKING, Any

from fastapi_sentient._version import __version__
from fastapi_sentient.exceptions import ConfigurationError, SentientError
from fastapi_sentient.health.result import CheckResult, HealthStatus
from fastapi_sentient.install import include_plugin
from fastapi_sentient.sentient import Sentient, SentientDep, get_sentient
from fastapi_sentient.settings import SentientSettings

if TYPE_CHECKING:
    from fastapi_sentient.dependencies import DbEngine, DbSession, RedisClient, http_client
    from fastapi_sentient.pools.transaction import transaction

# SQLAlchemy and redis-py are slow and heavy to import (docs/performance.md); a service
# without a database or Redis should not pay for them, so these names load on first use.
_LAZY = {
    "DbEngine": "fastapi_sentient.dependencies",
    "DbSession": "fastapi_sentient.dependencies",
    "RedisClient": "fastapi_sentient.dependencies",
    "http_client": "fastapi_sentient.dependencies",
    "transaction": "fastapi_sentient.pools.transaction",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fastapi_sentient' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CheckResult",
    "ConfigurationError",
    "DbEngine",
    "DbSession",
    "HealthStatus",
    "RedisClient",
    "Sentient",
    "SentientDep",
    "SentientError",
    "SentientSettings",
    "__version__",
    "get_sentient",
    "http_client",
    "include_plugin",
    "transaction",
]
