"""One app with every routing shape a route label must name (served by tests and uvicorn).

``GET`` each path of :data:`SHAPES` (with its ``Host`` header, if any) and the
request is labelled with the template beside it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Host, Match, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from fastapi_sentient import SentientSettings, include_plugin

#: (path, Host header or None, expected route label)
SHAPES: list[tuple[str, str | None, str]] = [
    ("/plain/any/depth", None, "/plain"),
    ("/static/hello.txt", None, "/static"),
    ("/api/tenants/42/files/report", None, "/api/tenants/{tenant_id}/files/{name}"),
    ("/api/added/7", None, "/api/added/{x}"),
    ("/api/items/3", None, "/api/items/{item_id}"),
    ("/custom/anything/at/all", None, "/custom/{rest}"),
    ("/hosted/9", "api.example.com", "/hosted/{h}"),
    ("/no/such/route", None, "__unmatched__"),
]

#: Served and answered 200, but excluded from metrics by SENTIENT_METRICS_EXCLUDE_PATHS.
EXCLUDED = "/api/items/5"


async def plain_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """A mounted ASGI app with no routes of its own."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"plain"})


async def text(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


class PrefixRoute(BaseRoute):
    """A custom route: everything under a prefix, by hand."""

    path = "/custom/{rest}"

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("custom")(scope, receive, send)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        local = scope["path"][len(scope.get("root_path", "")) :]
        if scope["type"] == "http" and local.startswith("/custom/"):
            return Match.FULL, {"endpoint": self.answer}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.answer(scope, receive, send)


def _flat(routes: list[Any]) -> list[Any]:
    from fastapi_sentient._compat.fastapi import included_route_candidates

    return list(included_route_candidates(routes))


def build(settings: SentientSettings | None = None) -> FastAPI:
    static = Path(tempfile.mkdtemp(prefix="sentient-static-"))
    (static / "hello.txt").write_text("hello")
    app = FastAPI()
    include_plugin(app, settings)
    # host routing first: it only answers its own host
    app.router.routes.append(Host("api.example.com", app=Router([Route("/hosted/{h}", text)])))
    app.mount("/plain", plain_asgi)
    app.mount("/static", StaticFiles(directory=static))
    router = APIRouter()
    tenant = Starlette(routes=[Route("/files/{name}", text)])
    router.mount("/tenants/{tenant_id}", tenant)
    router.add_route("/added/{x}", text)

    @router.get("/items/{item_id}")
    async def item(item_id: int) -> int:
        return item_id

    app.include_router(router, prefix="/api")
    if not any(getattr(route, "app", None) is tenant for route in _flat(app.routes)):
        # FastAPI < 0.137 drops mounts from included routers; there the same tree is
        # written with the full path on the app, and must get the same label
        app.mount("/api/tenants/{tenant_id}", tenant)
    app.router.routes.append(PrefixRoute())
    return app


def __getattr__(name: str) -> FastAPI:
    # ``app`` for uvicorn, built on demand so importing the shapes builds nothing
    if name == "app":
        return build()
    raise AttributeError(name)
