"""fastapi_sentient: production infrastructure for FastAPI services, installed with one call.

    from fastapi import FastAPI
    from fastapi_sentient import include_plugin

    app = FastAPI()
    sentient = include_plugin(app)

See ``docs/quickstart.md``.
"""

from typing import TYPE_CHECKING, Any

from fastapi_sentient._install import include_plugin
from fastapi_sentient._sentient import Sentient, SentientDep, get_sentient
from fastapi_sentient._version import __version__
from fastapi_sentient.exceptions import ConfigurationError, SentientError
from fastapi_sentient.health._result import CheckResult, HealthStatus
from fastapi_sentient.settings import SentientSettings

if TYPE_CHECKING:
    from fastapi_sentient._dependencies import DbEngine, DbSession, RedisClient, http_client
    from fastapi_sentient.pools._transaction import transaction

# SQLAlchemy and redis-py are slow and heavy to import (docs/performance.md); a service
# without a database or Redis should not pay for them, so these names load on first use.
_LAZY = {
    "DbEngine": "fastapi_sentient._dependencies",
    "DbSession": "fastapi_sentient._dependencies",
    "RedisClient": "fastapi_sentient._dependencies",
    "http_client": "fastapi_sentient._dependencies",
    "transaction": "fastapi_sentient.pools._transaction",
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
