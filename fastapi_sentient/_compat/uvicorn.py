"""uvicorn's ``Server``, found through the signal handler it installs.

uvicorn hands the app nothing that leads to its ``Server`` — whose
``handle_exit`` we chain to drain first, and whose ``config`` names the port
before the socket is bound.  The one way in is the SIGTERM handler it installs
for the duration of ``serve()``: the bound method ``Server.handle_exit``, whose
``__self__`` is the server.  It is recognised by its ``config`` carrying
``timeout_graceful_shutdown``; any other handler (another server's, none) is
no uvicorn server, which the callers handle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["find_server"]


def find_server(handler: Any) -> Any:
    """The uvicorn ``Server`` behind a signal handler (its bound ``handle_exit``), if any."""
    server = getattr(handler, "__self__", None)
    return server if hasattr(getattr(server, "config", None), "timeout_graceful_shutdown") else None
