"""The route label: the full path template of the route that served a request.

This is a versioned seam.  Every library that re-matched ``app.routes`` broke
when FastAPI began keeping included routers as tree nodes, and there
``scope["route"].path`` is the router-local path without the ``include_router``
prefixes.  We read, after the app ran, what the router itself wrote into the scope:

1. a FastAPI keeping routers as tree nodes:
   ``scope["fastapi"]["effective_route_context"].path_format``
   (the full template including every prefix);
2. otherwise ``scope["route"].path_format`` (Starlette sets ``scope["route"]``);
3. mounts add their prefix through ``root_path``; a parametrised mount's prefix is
   turned back into its template by matching the known mounts, never used raw;
4. what the router leaves unnamed is found through an index built once from the
   app's routes (FastAPI's included routers flattened): plain routes by their
   endpoint, a mounted plain ASGI app or ``StaticFiles`` by the app (its label is
   the mount path), a custom ``BaseRoute`` by the route itself.

Nothing matched (404, trailing-slash redirect, CORS pre-flight) → ``None``, which
the middleware labels ``__unmatched__``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_sentient._compat import fastapi as fastapi_compat

UNMATCHED = "__unmatched__"

STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def method_label(method: str) -> str:
    """Standard methods as they are; anything else becomes ``other`` (bounded)."""
    return method if method in STANDARD_METHODS else "other"


def _route_path(scope: Scope) -> str:
    """The path relative to the app serving it (``path`` minus ``root_path``)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if (
        root_path
        and path.startswith(root_path)
        and path[len(root_path) : len(root_path) + 1] == "/"
    ):
        return path[len(root_path) :]
    return path


def _local_template(scope: Scope) -> str | None:
    route = scope.get("route")
    if route is None:
        return None
    if isinstance(route, Mount):
        return ""  # a plain ASGI app behind a mount: the mount prefix is the template
    fastapi_scope = scope.get("fastapi")
    if fastapi_scope is not None:
        context = fastapi_scope.get("effective_route_context")
        if context is not None and getattr(context, "original_route", None) is route:
            template = getattr(context, "path_format", None)
            if isinstance(template, str):
                return template
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    return None if isinstance(route, Route | WebSocketRoute) else type(route).__name__


class _NamedHandle:
    """A custom route's ``handle`` that first names the route in the scope.

    Starlette's router tells nobody which custom ``BaseRoute`` it chose; only
    these routes pay for the one dict write, so the ordinary path stays as it was.
    """

    def __init__(self, route: BaseRoute, handle: Any) -> None:
        self.route = route
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        await self.handle(scope, receive, send)


class RouteIndex:
    """What the scope alone cannot tell: mount templates and unnamed routes.

    A matched mount prefix (``/tenants/42``) is turned back into its template by
    matching the known parametrised mounts.  FastAPI's router (unlike
    Starlette's) records no ``scope["route"]`` for plain Starlette routes —
    ``app.add_route(...)``, ``/docs``, ``/openapi.json`` — only the endpoint it
    called, so those are found by endpoint; a mount records the mounted app as
    the endpoint, so a plain ASGI app is found that way.  Built once, when
    routes are final.
    """

    def __init__(self, app: ASGIApp | None) -> None:
        self._mounts: list[tuple[Any, str]] = []
        self._endpoints: dict[Any, list[tuple[Any, str]]] = {}
        self._mounted: dict[Any, str] = {}
        if app is not None:
            self._collect(getattr(app, "routes", None) or [], "")
        # deepest first: a nested mount's regex must win over its parent's
        self._mounts.sort(key=lambda entry: -entry[1].count("/"))

    def _collect(self, routes: Iterable[Any], prefix: str) -> None:
        for route in fastapi_compat.included_route_candidates(routes):
            if isinstance(route, Mount):
                template = prefix + route.path
                if "{" in template:
                    regex, _, _ = compile_path(template + "/{__rest:path}")
                    self._mounts.append((regex, template))
                inner = getattr(route.app, "routes", None)
                if inner is None:  # a plain ASGI app or StaticFiles: the mount is the route
                    with contextlib.suppress(TypeError):  # an unhashable app: not indexable
                        self._mounted[route.app] = template
                self._collect(list(getattr(route, "routes", None) or []), template)
            elif isinstance(route, Host):
                self._collect(list(route.routes), prefix)
            elif isinstance(route, Route | WebSocketRoute):
                try:
                    candidates = self._endpoints.setdefault(route.endpoint, [])
                except TypeError:  # an unhashable endpoint object: not indexable
                    continue
                candidates.append((route.path_regex, route.path_format))
            elif isinstance(route, BaseRoute) and not isinstance(
                getattr(route, "handle", None), _NamedHandle
            ):
                route.handle = _NamedHandle(route, route.handle)  # type: ignore[method-assign]

    def template(self, prefix: str) -> str:
        """The template of a mount prefix; static prefixes are already templates."""
        if not self._mounts:
            return prefix
        probe = prefix + "/_"
        for regex, template in self._mounts:
            if regex.match(probe):
                return str(template)
        return prefix

    def endpoint_template(self, scope: Scope) -> str | None:
        """The template of the plain route whose endpoint served ``scope``, if any.

        A mounted plain app's template is the empty string: the mount prefix,
        which ``root_path`` carries, is the whole template.
        """
        endpoint = scope.get("endpoint")
        try:
            candidates = self._endpoints.get(endpoint)
            if not candidates:
                return "" if endpoint in self._mounted else None
        except TypeError:
            return None
        if len(candidates) > 1:
            path = _route_path(scope)
            for regex, template in candidates:
                if regex.match(path):
                    return str(template)
        return str(candidates[0][1])


def route_template(scope: Scope, entry_root_path: str, mounts: RouteIndex) -> str | None:
    """The full template of the route that served ``scope``, or None when nothing matched."""
    local = _local_template(scope)
    if local is None and "endpoint" in scope:
        local = mounts.endpoint_template(scope)
    if local is None:
        return None
    root_path = scope.get("root_path", "")
    if root_path == entry_root_path or not root_path.startswith(entry_root_path):
        return local or "/"
    return mounts.template(root_path[len(entry_root_path) :]) + local
