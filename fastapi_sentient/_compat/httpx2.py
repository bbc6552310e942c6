"""httpx2's connection pool, behind its transport.

``httpx2.AsyncHTTPTransport`` keeps its httpcore2 pool as ``_pool`` and offers
no public way to it; the pool itself lists its connections publicly
(``connections``).  The ``http_pool_*`` open and idle counts come from that
list.  The metered transport reads it once when it is built, so an httpx2
without ``_pool`` stops startup instead of reporting every connection closed.
"""

from __future__ import annotations

from typing import Any

from fastapi_sentient._compat import missing, read

__all__ = ["pool_connections"]

_HTTPX2 = "httpx2"
_HTTPCORE2 = "httpcore2"


def pool_connections(transport: Any) -> list[Any]:
    """The connections of an ``AsyncHTTPTransport``'s pool (``_pool.connections``).

    A transport of another kind (a test's ``MockTransport``) has no pool we know: [].
    """
    import httpx2

    if not isinstance(transport, httpx2.AsyncHTTPTransport):
        return []
    pool = read(transport, "_pool", _HTTPX2, "the http_pool_* connection counts")
    found = getattr(pool, "connections", None)
    if not isinstance(found, list):
        attribute = f"{type(pool).__name__}.connections"
        raise missing(_HTTPCORE2, attribute, "the http_pool_* connection counts")
    return found
