"""``POST /chat``: an LLM answer streamed as server-sent events.

Works offline: with no provider configured it answers 503 and says which
variable to set.  The stream ends with ``event: done`` (usage, cost, who
served) or, when the process starts draining, with ``event: shutdown`` — the
provider stream is closed at once, so its connection goes back to the pool and
the drain is not held up by a long generation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from fastapi_sentient import SentientDep
from fastapi_sentient.exceptions import LLMError
from fastapi_sentient.llm import LLMStream, NoProviderError

router = APIRouter()
log = logging.getLogger("example_app.chat")


class ChatRequest(BaseModel):
    """One user message; ``target`` names a provider or a route, ``model`` a model."""

    message: str = Field(min_length=1, max_length=20_000)
    target: str | None = None
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=8192)


def _public_error(exc: LLMError) -> dict[str, object]:
    return {
        "error": "the model provider failed; try again later",
        "type": type(exc).__name__,
        "provider": getattr(exc, "provider", None),
    }


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def _sse(stream: LLMStream, draining: asyncio.Event) -> AsyncIterator[str]:
    chunks = aiter(stream)
    drain = asyncio.ensure_future(draining.wait())
    try:
        while True:
            step = asyncio.ensure_future(anext(chunks))
            await asyncio.wait({step, drain}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.cancel()
                await asyncio.gather(step, return_exceptions=True)
                yield _event("shutdown", {"reason": "draining"})
                return
            try:
                chunk = step.result()
            except StopAsyncIteration:
                break
            except LLMError as exc:
                # the caller is anonymous: who failed and how, never the provider's own
                # words (they may echo a header or a key); the details go to the log
                log.warning("chat stream failed: %s", exc)
                yield _event("error", _public_error(exc))
                return
            yield f"data: {json.dumps({'text': chunk})}\n\n"
        result = stream.result
        if result is not None:
            usage = {"input": result.usage.input_tokens, "output": result.usage.output_tokens}
            done = {"provider": result.provider, "model": result.model, "usage": usage,
                    "cost_usd": result.cost_usd}  # fmt: skip
            yield _event("done", done)
    finally:
        drain.cancel()
        await stream.aclose()


@router.post("/chat", response_model=None)
async def chat(body: ChatRequest, sentient: SentientDep) -> Response:
    """Stream the model's answer to ``message`` as SSE."""
    try:
        stream = sentient.llm.stream(
            body.target,
            model=body.model,
            messages=[{"role": "user", "content": body.message}],
            max_tokens=body.max_tokens,
        )
    except NoProviderError as exc:
        # none configured: this service cannot answer (503); else the target named is wrong (400)
        status = 400 if sentient.llm.providers else 503
        return JSONResponse({"error": str(exc)}, status_code=status)
    return StreamingResponse(
        _sse(stream, sentient.lifecycle.draining),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )
