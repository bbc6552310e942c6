"""The exception tree of fastapi_sentient.

Everything we raise on purpose derives from :class:`SentientError`, so a caller
can catch the whole family with one ``except``::

    SentientError
    ├── ConfigurationError          bad settings or a misuse of the install API (also a ValueError)
    ├── MissingDependencyError      an optional extra is not installed (also an ImportError)
    ├── NotStartedError             a resource was used before the app's lifespan started it
    ├── StartupError                a startup task or a required resource failed
    ├── PoolError                   connection pool problems
    │   ├── PoolNotFoundError       no pool registered under that name
    │   ├── PoolTimeoutError        no connection within the acquire timeout (answered as 503)
    │   └── DatabaseTimeoutError    a statement outlived SENTIENT_DB_STATEMENT_TIMEOUT (answered as 504)
    ├── ClusterError                coordination problems (lost leadership, stale fencing token)
    ├── LibraryInternalsError       an installed library lacks an internal we read (names library, version, attribute)
    └── LLMError                    provider call failures (see fastapi_sentient.llm)
"""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "ConfigurationError",
    "DatabaseTimeoutError",
    "LLMError",
    "LibraryInternalsError",
    "MissingDependencyError",
    "NotStartedError",
    "PoolError",
    "PoolNotFoundError",
    "PoolTimeoutError",
    "SentientError",
    "StartupError",
]


class SentientError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigurationError(SentientError, ValueError):
    """Invalid settings or an install call that cannot work.

    The message is one line that names the variable (or the call) and the
    accepted form, because it is what an operator reads in a crash loop.
    """


class MissingDependencyError(SentientError, ImportError):
    """An optional dependency group is not installed; the message names the extra."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed; install it with: pip install 'fastapi-sentient[{extra}]'"
        )


class NotStartedError(SentientError, RuntimeError):
    """A resource was used outside the app's lifespan (before startup or after shutdown)."""


class StartupError(SentientError, RuntimeError):
    """A startup task or a required resource failed; startup stops."""


class PoolError(SentientError):
    """A connection pool could not serve a request."""


class PoolNotFoundError(PoolError, LookupError):
    """No pool is registered under the requested name."""


class PoolTimeoutError(PoolError, TimeoutError):
    """No connection became free within the pool's acquire timeout."""


class DatabaseTimeoutError(PoolError, TimeoutError):
    """A database statement ran past ``SENTIENT_DB_STATEMENT_TIMEOUT``, or the server stopped answering."""


class ClusterError(SentientError):
    """A cluster coordination operation failed."""


class LibraryInternalsError(SentientError, RuntimeError):
    """A library no longer has a private attribute we rely on (see ``fastapi_sentient._compat``).

    The message names the distribution, its installed version and the attribute,
    so the fix — pin the library or upgrade fastapi-sentient — is plain.
    """


class LLMError(SentientError):
    """An LLM provider call failed."""
