"""Install the built wheel as users do and serve a smoke app from each extra set.

For each of: no extras, every extra alone, all of them — a fresh virtual
environment gets ``fastapi_sentient-*.whl[extras]`` (plus uvicorn, the user's
server of choice), the feature of each installed extra is configured against a
real local service (SQLite file, a throwaway redis-server, a fake LLM / HTTP /
OTLP server on 127.0.0.1), and a uvicorn serving ``include_plugin(FastAPI())``
must answer ``/ready`` 200 and ``/metrics``, and the feature must work.  In the
bare environment every feature is configured once more without its extra: the
process must stop with one line naming the extra to install.

Usage: python .ci/wheels.py [--uv PATH]   (run from the repository root)
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SMOKE_APP = """
import os
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi_sentient import SentientDep, include_plugin

app = FastAPI()
sentient = include_plugin(app)

if os.environ.get("SMOKE_LLM"):
    @app.get("/chat")
    async def chat(s: SentientDep) -> dict[str, str]:
        result = await s.llm.generate(
            "local", model="smoke-model", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
        return {"text": result.text}

if os.environ.get("SMOKE_HTTP"):
    from fastapi_sentient import http_client

    @app.get("/tool")
    async def tool(client: Annotated[Any, http_client("tool")]) -> dict[str, int]:
        return {"status": (await client.get("/v1/models")).status_code}

if os.environ.get("SMOKE_DB"):
    from sqlalchemy import text
    from fastapi_sentient import DbSession

    @app.get("/db")
    async def db(session: DbSession) -> dict[str, int]:
        return {"value": (await session.execute(text("select 41 + 1"))).scalar_one()}

if os.environ.get("SMOKE_REDIS"):
    from fastapi_sentient import RedisClient

    @app.get("/redis")
    async def redis(client: RedisClient) -> dict[str, int]:
        return {"value": int(await client.incr("smoke"))}
"""

EXTRAS = ["db", "redis", "llm", "http", "tracing"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeServer(http.server.ThreadingHTTPServer):
    """An OpenAI-compatible provider, a plain JSON API and an OTLP receiver in one."""

    spans = 0


class FakeHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def reply(self, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.reply({"object": "list", "data": [{"id": "smoke-model", "object": "model"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/v1/traces"):
            assert isinstance(self.server, FakeServer)
            self.server.spans += 1
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.reply(
            {
                "id": "c1",
                "object": "chat.completion",
                "model": "smoke-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "smoke ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            }
        )


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"smoke app exited early:\n{log.read_text()}")
        try:
            if get(url + "/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"smoke app never became ready:\n{log.read_text()}")


class Smoke:
    def __init__(self, uv: str, wheel: Path, work: Path) -> None:
        self.uv = uv
        self.wheel = wheel
        self.work = work
        (work / "smoke_app.py").write_text(SMOKE_APP)
        self.fake = FakeServer(("127.0.0.1", 0), FakeHandler)
        threading.Thread(target=self.fake.serve_forever, daemon=True).start()
        self.fake_url = f"http://127.0.0.1:{self.fake.server_address[1]}"
        self.redis: subprocess.Popen[bytes] | None = None
        self.redis_url = ""

    def start_redis(self) -> str:
        if self.redis is None:
            port = free_port()
            self.redis = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL,
            )
            self.redis_url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
        return self.redis_url

    def close(self) -> None:
        self.fake.shutdown()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(10)

    def venv(self, extras: list[str]) -> Path:
        name = "-".join(extras) or "none"
        path = self.work / f"venv-{name}"
        subprocess.run([self.uv, "venv", "-q", "--python", sys.executable, str(path)], check=True)
        spec = f"{self.wheel}[{','.join(extras)}]" if extras else str(self.wheel)
        env = {**os.environ, "VIRTUAL_ENV": str(path)}
        subprocess.run([self.uv, "pip", "install", "-q", spec], check=True, env=env)
        return path

    def feature_env(self, extra: str) -> dict[str, str]:
        if extra == "db":
            return {
                "SENTIENT_DATABASE_URL": f"sqlite+aiosqlite:///{self.work}/smoke.db",
                "SMOKE_DB": "1",
            }
        if extra == "redis":
            return {"SENTIENT_REDIS_URL": self.start_redis(), "SMOKE_REDIS": "1"}
        if extra == "llm":
            provider = {
                "kind": "openai",
                "base_url": self.fake_url + "/v1",
                "api_key": "smoke-key",
                "models": ["smoke-model"],
            }
            return {"SENTIENT_LLM_PROVIDERS": json.dumps({"local": provider}), "SMOKE_LLM": "1"}
        if extra == "http":
            return {
                "SENTIENT_HTTP_CLIENTS": json.dumps({"tool": {"base_url": self.fake_url}}),
                "SMOKE_HTTP": "1",
            }
        if extra == "tracing":
            return {
                "SENTIENT_TRACING_ENABLED": "true",
                "OTEL_EXPORTER_OTLP_ENDPOINT": self.fake_url,
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            }
        raise ValueError(extra)

    def serve(self, venv: Path, extras: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTIENT_", "OTEL_"))}
        env.update({"SENTIENT_SYSTEM_CHECKS": "false", "PYTHONPATH": str(self.work)})
        for extra in extras:
            env.update(self.feature_env(extra))
        port = free_port()
        log = self.work / f"uvicorn-{port}.log"
        python = str(venv / "bin" / "python")
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [python, "-m", "uvicorn", "smoke_app:app", "--port", str(port)],
                cwd=self.work,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log)
            status, body = get(url + "/metrics")
            assert status == 200 and "http_requests_in_flight" in body, body[:300]
            if "db" in extras:
                assert json.loads(get(url + "/db")[1]) == {"value": 42}
            if "redis" in extras:
                assert json.loads(get(url + "/redis")[1])["value"] >= 1
            if "llm" in extras:
                assert json.loads(get(url + "/chat")[1]) == {"text": "smoke ok"}
                assert 'llm_requests_total{model="smoke-model"' in get(url + "/metrics")[1]
            if "http" in extras:
                assert json.loads(get(url + "/tool")[1]) == {"status": 200}
            if "tracing" in extras:
                before = self.fake.spans
                get(url + "/ready")
                get(url + "/no-such-route")
                deadline = time.monotonic() + 20
                while self.fake.spans == before and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert self.fake.spans > before, "no span was exported"
        except AssertionError:
            print(log.read_text())
            raise
        finally:
            proc.terminate()
            proc.wait(30)

    def missing_extras(self, venv: Path) -> None:
        """Each feature configured without its extra stops with one line naming it."""
        python = str(venv / "bin" / "python")
        packages = {
            "db": "sqlalchemy",
            "redis": "redis",
            "llm": "httpx2",
            "http": "httpx2",
            "tracing": "opentelemetry-sdk",
        }
        for extra in EXTRAS:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIENT_")}
            env.update(self.feature_env(extra))
            env["PYTHONPATH"] = str(self.work)
            done = subprocess.run(
                [python, "-c", "import smoke_app"],
                cwd=self.work,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            expected = (
                f"fastapi_sentient: {packages[extra]} is not installed; "
                f"install it with: pip install 'fastapi-sentient[{extra}]'"
            )
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 1 and lines[-1:] == [expected], (extra, done.stderr)
            assert "Traceback" not in done.stderr, (extra, done.stderr)
            print(f"  [{extra}] missing: {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uv", default=shutil.which("uv") or "uv")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sentient-wheels-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [args.uv, "build", "-q", "--wheel", "-o", str(work / "dist"), str(ROOT)], check=True
        )
        (wheel,) = (work / "dist").glob("fastapi_sentient-*.whl")
        smoke = Smoke(args.uv, wheel, work)
        try:
            for extras in [[], *([extra] for extra in EXTRAS), EXTRAS]:
                name = ",".join(extras) or "no extras"
                venv = smoke.venv(extras)
                if not extras:
                    has_uvicorn = subprocess.run(
                        [str(venv / "bin" / "python"), "-c", "import uvicorn"],
                        capture_output=True,
                        check=False,
                    )
                    assert has_uvicorn.returncode != 0, "the wheel must not require uvicorn"
                    smoke.missing_extras(venv)
                env = {**os.environ, "VIRTUAL_ENV": str(venv)}
                subprocess.run([args.uv, "pip", "install", "-q", "uvicorn"], check=True, env=env)
                smoke.serve(venv, extras)
                print(f"wheel [{name}]: /ready 200, /metrics and the feature work")
        finally:
            smoke.close()
    print(f"wheel smoke passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
