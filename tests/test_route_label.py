"""Route labels: full templates through prefixes and mounts; bounded for junk traffic."""

from __future__ import annotations

import random
import string

import httpx2
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from fastapi_sentient._route_label import UNMATCHED, method_label
from tests.support import route_shapes
from tests.support.asgi import plugged_app, quiet_settings, running, sample
from tests.support.procs import app_process


def routes_in(text: str) -> set[str]:
    """Every route label value of http_requests_total in an exposition."""
    labels = set()
    for line in text.splitlines():
        if line.startswith("http_requests_total{"):
            labels.add(line.split('route="', 1)[1].split('"', 1)[0])
    return labels


def nested_app() -> FastAPI:
    app, _ = plugged_app()
    inner = APIRouter(prefix="/items")

    @inner.get("/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @inner.post("/{item_id}/notes/")
    async def note(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    outer = APIRouter(prefix="/v1")
    outer.include_router(inner)
    app.include_router(outer, prefix="/api")

    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("hi")

    sub = Starlette(routes=[Route("/hello/{name}", hello)])
    app.mount("/sub", sub)
    tenant = Starlette(routes=[Route("/files/{file_id}", hello)])
    app.mount("/tenants/{tenant_id}", tenant)
    return app


async def test_nested_prefixed_routers_give_full_template() -> None:
    """A route under two nested prefixed routers is labelled with its full template."""
    async with running(nested_app()) as client:
        assert (await client.get("/api/v1/items/7")).status_code == 200
        text = (await client.get("/metrics")).text
    assert "/api/v1/items/{item_id}" in routes_in(text)


async def test_mounts_add_their_template() -> None:
    """Static and parametrised mounts label with the template, never the raw path."""
    async with running(nested_app()) as client:
        assert (await client.get("/sub/hello/bob")).status_code == 200
        for tenant in range(5):
            assert (await client.get(f"/tenants/{tenant}/files/9")).status_code == 200
        text = (await client.get("/metrics")).text
    labels = routes_in(text)
    assert "/sub/hello/{name}" in labels
    assert "/tenants/{tenant_id}/files/{file_id}" in labels
    assert not any("/tenants/1" in label for label in labels)


async def test_redirects_404_and_405() -> None:
    """Slash redirects and 404s are unmatched; 405 keeps the template."""
    async with running(nested_app()) as client:
        redirect = await client.post("/api/v1/items/3/notes", follow_redirects=False)
        assert redirect.status_code == 307
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.delete("/api/v1/items/3")).status_code == 405
        text = (await client.get("/metrics")).text
    assert 'route="__unmatched__",status_code="307"' in text
    assert 'route="__unmatched__",status_code="404"' in text
    assert 'method="DELETE",route="/api/v1/items/{item_id}",status_code="405"' in text


async def test_random_paths_and_junk_methods_stay_bounded() -> None:
    """1,500 random paths and 100 junk methods leave at most 10 route labels."""
    rng = random.Random(7)
    async with running(nested_app()) as client:
        for _ in range(1500):
            path = "/" + "/".join(
                "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(1, 12)))
                for _ in range(rng.randint(1, 4))
            )
            await client.get(path)
        for index in range(100):
            method = "".join(rng.choices(string.ascii_uppercase, k=6)) + str(index)
            await client.request(method, "/api/v1/items/1")
        text = (await client.get("/metrics")).text
    labels = routes_in(text)
    assert len(labels) <= 10, labels
    methods = {
        line.split('method="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if line.startswith("http_requests_total{")
    }
    assert methods <= {"GET", "other"}


def test_method_label_is_bounded() -> None:
    """Standard methods pass; anything else is 'other'."""
    assert method_label("PATCH") == "PATCH"
    assert method_label("PROPFIND") == "other"
    assert UNMATCHED == "__unmatched__"


async def test_root_path_prefix_is_not_in_the_label() -> None:
    """An app served under root_path labels routes relative to its own root."""
    app, _ = plugged_app()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> int:
        return thing_id

    app.root_path = "/gateway"
    async with running(app) as client:
        assert (await client.get("/gateway/things/1")).status_code == 200
        text = (await client.get("/gateway/metrics")).text
    assert "/things/{thing_id}" in routes_in(text)


async def test_mount_in_mount_uses_both_prefixes() -> None:
    """Mounts nested in mounts keep both templates."""
    app, _ = plugged_app()

    async def leaf(request: object) -> PlainTextResponse:
        return PlainTextResponse("leaf")

    inner = Starlette(routes=[Route("/leaf/{x}", leaf)])
    middle = Starlette(routes=[Mount("/org/{org_id}", app=inner)])
    app.mount("/outer", middle)
    async with running(app) as client:
        assert (await client.get("/outer/org/42/leaf/1")).status_code == 200
        text = (await client.get("/metrics")).text
    assert "/outer/org/{org_id}/leaf/{x}" in routes_in(text)


async def test_plain_routes_docs_and_shared_endpoints_get_templates() -> None:
    """Plain Starlette routes on a FastAPI app (add_route, /docs, /openapi.json) keep their templates."""
    app, _ = plugged_app()

    async def plain(request: object) -> PlainTextResponse:
        return PlainTextResponse("plain")

    app.add_route("/plain/{x}", plain)
    app.add_route("/also/{y}/plain", plain)
    async with running(app) as client:
        assert (await client.get("/plain/1")).status_code == 200
        assert (await client.get("/also/2/plain")).status_code == 200
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200
        text = (await client.get("/metrics")).text
    labels = routes_in(text)
    assert {"/plain/{x}", "/also/{y}/plain", "/docs", "/openapi.json"} <= labels
    assert "__unmatched__" not in labels


@pytest.mark.parametrize("root_path", ["", "/gateway"])
async def test_every_app_shape_gets_its_template(root_path: str) -> None:
    """Mounted ASGI apps and StaticFiles, a parametrised mount and add_route in an included
    router, a custom BaseRoute and host routing: each labelled with its template."""
    app = route_shapes.build(quiet_settings(metrics_exclude_paths=[route_shapes.EXCLUDED]))
    async with running(app, root_path=root_path) as client:
        for path, host, _ in route_shapes.SHAPES:
            headers = {"host": host} if host else {}
            response = await client.get(root_path + path, headers=headers)
            assert response.status_code == (404 if path == "/no/such/route" else 200), path
        assert (await client.get(root_path + route_shapes.EXCLUDED)).status_code == 200
        text = (await client.get(root_path + "/metrics")).text
    for path, _, label in route_shapes.SHAPES:
        assert sample(text, "http_requests_total", route=label) == 1, (path, label)
    assert routes_in(text) == {label for _, _, label in route_shapes.SHAPES}


async def test_hostile_traffic_on_every_shape_stays_bounded() -> None:
    """Random suffixes under every mount, custom route and host leave only the templates."""
    app = route_shapes.build(quiet_settings())
    rng = random.Random(7)

    def junk() -> str:
        return "".join(rng.choices(string.ascii_letters + string.digits, k=12))

    async with running(app) as client:
        for _ in range(30):
            for path in (
                f"/plain/{junk()}",
                f"/static/{junk()}",
                f"/api/tenants/{junk()}/files/{junk()}",
                f"/api/tenants/{junk()}/{junk()}",
                f"/api/added/{junk()}",
                f"/custom/{junk()}/{junk()}",
                f"/{junk()}",
            ):
                await client.get(path)
            await client.get(f"/hosted/{junk()}", headers={"host": "api.example.com"})
            await client.get(f"/hosted/{junk()}", headers={"host": f"{junk()}.example.com"})
        text = (await client.get("/metrics")).text
    assert routes_in(text) == {
        "/plain",
        "/static",
        "/api/tenants/{tenant_id}/files/{name}",
        "/api/added/{x}",
        "/custom/{rest}",
        "/hosted/{h}",
        UNMATCHED,
    }


@pytest.mark.integration
async def test_every_app_shape_under_uvicorn_with_a_root_path() -> None:
    """The same labels from a real uvicorn behind --root-path (a proxy that strips the prefix)."""
    env = {"SENTIENT_METRICS_EXCLUDE_PATHS": route_shapes.EXCLUDED}
    with app_process(
        "tests.support.route_shapes:app", env=env, args=["--root-path", "/gateway"]
    ) as proc:
        async with httpx2.AsyncClient(base_url=proc.url, timeout=10) as client:
            for path, host, _ in route_shapes.SHAPES:
                headers = {"host": host} if host else {}
                response = await client.get(path, headers=headers)
                assert response.status_code == (404 if path == "/no/such/route" else 200), path
            assert (await client.get(route_shapes.EXCLUDED)).status_code == 200
            text = (await client.get("/metrics")).text
    for path, _, label in route_shapes.SHAPES:
        assert sample(text, "http_requests_total", route=label) == 1, (path, label)
    assert routes_in(text) == {label for _, _, label in route_shapes.SHAPES}
