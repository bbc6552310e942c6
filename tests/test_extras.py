"""Optional extras: the core imports none of them; a configured feature names its missing extra.

Each case runs in a fresh interpreter, because what matters is what an import
pulls in (or fails on) from a clean ``sys.modules``.  A missing extra is
simulated by blocking its package (``sys.modules[name] = None`` makes every
import of it fail as if it were not installed); tests/wheel_smoke.py checks the
real thing against built wheels in fresh virtual environments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

OPTIONAL = ("httpx2", "sqlalchemy", "redis", "opentelemetry.sdk", "uvicorn", "asyncpg", "aiosqlite")


def run(code: str, *, block: tuple[str, ...] = (), env: dict[str, str] | None = None) -> str:
    prelude = f"import sys\nfor _name in {list(block)!r}:\n    sys.modules[_name] = None\n"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SENTIENT_")}
    environ.update({"SENTIENT_SYSTEM_CHECKS": "false", **(env or {})})
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    return f"rc={done.returncode}\n{done.stdout}{done.stderr}"


def test_core_install_imports_no_optional_package() -> None:
    """include_plugin(FastAPI()) with nothing configured loads none of the extras' packages."""
    out = run(
        f"""
        import json
        from fastapi import FastAPI
        from fastapi_sentient import include_plugin
        sentient = include_plugin(FastAPI())
        loaded = sorted(
            name for name in {list(OPTIONAL)!r}
            if any(m == name or m.startswith(name + ".") for m in sys.modules)
        )
        print(json.dumps(loaded))
        """
    )
    assert out.startswith("rc=0"), out
    assert json.loads(out.splitlines()[1]) == []


def test_core_install_starts_with_every_extra_blocked() -> None:
    """Without any extra, the app starts and serves /ready and /metrics (driven as raw ASGI)."""
    out = run(
        """
        import asyncio
        from fastapi import FastAPI
        from fastapi_sentient import include_plugin

        app = FastAPI()
        include_plugin(app)
        state = {}

        async def call(path):
            sent = []
            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}
            async def send(message):
                sent.append(message)
            scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                     "root_path": "", "query_string": b"", "headers": [], "scheme": "http",
                     "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
                     "http_version": "1.1", "asgi": {"version": "3.0"}, "state": dict(state)}
            await app(scope, receive, send)
            return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

        async def main():
            queue = asyncio.Queue()
            await queue.put({"type": "lifespan.startup"})
            events = []
            async def send(message):
                events.append(message["type"])
            lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
            task = asyncio.create_task(app(lifespan, queue.get, send))
            while not events:
                await asyncio.sleep(0.01)
            assert events == ["lifespan.startup.complete"], events
            ready, _ = await call("/ready")
            metrics, body = await call("/metrics")
            print(ready, metrics, b"http_requests_in_flight" in body)
            await queue.put({"type": "lifespan.shutdown"})
            await task

        asyncio.run(main())
        """,
        block=OPTIONAL,
    )
    assert out.startswith("rc=0"), out
    assert out.splitlines()[1] == "200 200 True"


@pytest.mark.parametrize(
    ("variable", "value", "blocked", "package", "extra"),
    [
        ("SENTIENT_DATABASE_URL", "sqlite+aiosqlite:///:memory:", "sqlalchemy", "sqlalchemy", "db"),
        ("SENTIENT_REDIS_URL", "redis://127.0.0.1:1/0", "redis", "redis", "redis"),
        ("SENTIENT_TRACING_ENABLED", "true", "opentelemetry.sdk", "opentelemetry-sdk", "tracing"),
        (
            "SENTIENT_LLM_PROVIDERS",
            '{"local": {"kind": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": "k"}}',
            "httpx2",
            "httpx2",
            "llm",
        ),
    ],
)
def test_configured_feature_without_its_extra_stops_with_one_line(
    variable: str, value: str, blocked: str, package: str, extra: str
) -> None:
    """The process stops at include_plugin with one line naming the extra to install."""
    out = run(
        """
        from fastapi import FastAPI
        from fastapi_sentient import include_plugin
        include_plugin(FastAPI())
        """,
        block=(blocked,),
        env={variable: value},
    )
    lines = out.splitlines()
    assert lines[0] == "rc=1", out
    assert lines[1:] == [
        f"fastapi_sentient: {package} is not installed; "
        f"install it with: pip install 'fastapi-sentient[{extra}]'"
    ], out


def test_llm_layer_without_its_extra_names_it_on_use() -> None:
    """With no provider configured and no httpx2, sentient.llm says which extra to install."""
    out = run(
        """
        from fastapi import FastAPI
        from fastapi_sentient import include_plugin
        sentient = include_plugin(FastAPI())
        try:
            sentient.llm.add_provider("x", kind="openai")
        except ImportError as exc:
            print(exc)
        """,
        block=("httpx2",),
    )
    assert out.splitlines() == [
        "rc=0",
        "httpx2 is not installed; install it with: pip install 'fastapi-sentient[llm]'",
    ]
