"""fastapi_sentient: production infrastructure for FastAPI services, installed with one call.

    from fastapi import FastAPI
    from fastapi_sentient import include_plugin

    app = FastAPI()
    sentient = include_plugin(app)

See ``docs/quickstart.md``.
"""

from fastapi_sentient._version import __version__
from fastapi_sentient.dependencies import DbEngine, DbSession, RedisClient, http_client
from fastapi_sentient.exceptions import ConfigurationError, SentientError
from fastapi_sentient.health.result import CheckResult, HealthStatus
from fastapi_sentient.install import include_plugin
from fastapi_sentient.pools.transaction import transaction
from fastapi_sentient.sentient import Sentient, SentientDep, get_sentient
from fastapi_sentient.settings import SentientSettings

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
