"""``sentient.llm.sdk``: the official ``openai`` and ``anthropic`` SDKs on our pools and pipeline.

:class:`SDKCalls` builds the SDK clients and runs their calls (whole or
streamed, :class:`SDKStream`) through the same breaker, retries, metrics and
span as the gateway's own; the SDKs' objects are read by shape, never imported.
"""

from __future__ import annotations

from fastapi_sentient.llm._sdk._calls import SDKCalls
from fastapi_sentient.llm._sdk._stream import SDKStream

__all__ = ["SDKCalls", "SDKStream"]
