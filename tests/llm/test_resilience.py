"""Breakers, retries and the retry budget over real HTTP to the fake providers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fastapi_sentient import Sentient
from fastapi_sentient.llm import CircuitOpenError, ProviderError
from tests.llm.conftest import llm_app, providers
from tests.llm.fakes import FakeProvider
from tests.support.asgi import running, sample

MESSAGES = [{"role": "user", "content": "hi"}]
NAME = "llm:openai:gpt-test"


def value(sentient: Sentient, metric: str, labels: dict[str, str]) -> float | None:
    """One sample by exact labels (``name`` is a label here, so ``sample`` cannot take it)."""
    for family in text_string_to_metric_families(
        generate_latest(sentient.metrics.registry).decode()
    ):
        for s in family.samples:
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def gauge(sentient: Sentient) -> float | None:
    return value(sentient, "circuit_breaker_state", {"name": NAME})


def transitions(sentient: Sentient, old: str, new: str) -> float | None:
    labels = {"name": NAME, "from_state": old, "to_state": new}
    return value(sentient, "circuit_breaker_transitions_total", labels)


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def call(sentient: Sentient) -> Any:
    return await sentient.llm.generate("openai", model="gpt-test", messages=MESSAGES)


async def test_breaker_opens_rejects_fast_probes_and_recovers(openai_fake: FakeProvider) -> None:
    """503s open it; open rejects in < 50 ms unsent; on time it half-opens; N probes close it."""
    app, sentient = llm_app(
        providers(openai_fake),
        llm_retry_attempts=1,
        llm_breaker_minimum_calls=4,
        llm_breaker_window_size=4,
        llm_breaker_open_duration=0.5,
        llm_breaker_half_open_calls=2,
    )
    async with running(app):
        assert gauge(sentient) == 0
        openai_fake.status = 503
        for _ in range(4):
            with pytest.raises(ProviderError):
                await call(sentient)
        assert gauge(sentient) == 1
        sent = openai_fake.posts

        with pytest.raises(CircuitOpenError, match="open"):
            await call(sentient)
        assert openai_fake.posts == sent  # rejected without a request

        # no traffic at all: the gauge still moves to half-open on time
        await wait_for(lambda: gauge(sentient) == 2)
        assert openai_fake.posts == sent

        openai_fake.status = None
        openai_fake.delay = 0.2
        outcomes = await asyncio.gather(
            *(call(sentient) for _ in range(10)), return_exceptions=True
        )
        admitted = [o for o in outcomes if not isinstance(o, BaseException)]
        rejected = [o for o in outcomes if isinstance(o, CircuitOpenError)]
        assert openai_fake.posts == sent + 2
        assert len(admitted) == 2
        assert len(rejected) == 8
        assert gauge(sentient) == 0
    assert transitions(sentient, "closed", "open") == 1
    assert transitions(sentient, "open", "half_open") == 1
    assert transitions(sentient, "half_open", "closed") == 1


async def test_failed_probe_reopens(openai_fake: FakeProvider) -> None:
    """A half-open probe that fails sends the breaker back to open."""
    app, sentient = llm_app(
        providers(openai_fake),
        llm_retry_attempts=1,
        llm_breaker_minimum_calls=1,
        llm_breaker_window_size=1,
        llm_breaker_open_duration=0.2,
    )
    openai_fake.status = 500
    async with running(app):
        with pytest.raises(ProviderError):
            await call(sentient)
        await wait_for(lambda: gauge(sentient) == 2)
        with pytest.raises(ProviderError):
            await call(sentient)
        assert gauge(sentient) == 1
    assert transitions(sentient, "half_open", "open") == 1


async def test_client_errors_never_trip_nor_retry(openai_fake: FakeProvider) -> None:
    """400s are the caller's fault: one request each, the breaker stays closed."""
    app, sentient = llm_app(
        providers(openai_fake), llm_breaker_minimum_calls=2, llm_breaker_window_size=2
    )
    openai_fake.status = 400
    async with running(app):
        for _ in range(4):
            with pytest.raises(ProviderError) as info:
                await call(sentient)
            assert info.value.status == 400
        assert gauge(sentient) == 0
    assert openai_fake.posts == 4


async def test_each_call_reaches_the_provider_exactly_attempts_times(
    openai_fake: FakeProvider,
) -> None:
    """Always 503 with 3 attempts: every call sends exactly 3 requests."""
    app, sentient = llm_app(providers(openai_fake), llm_retry_attempts=3)
    openai_fake.status = 503
    async with running(app):
        for calls in (1, 2):
            with pytest.raises(ProviderError):
                await call(sentient)
            assert openai_fake.posts == 3 * calls
        text = generate_latest(sentient.metrics.registry).decode()
    assert sample(text, "llm_retries_total", provider="openai", reason="503") == 4
    assert sample(text, "llm_requests_total", provider="openai", status="error") == 6


async def test_official_sdk_through_wrapper_is_not_retried_twice(openai_fake: FakeProvider) -> None:
    """The SDK wrapper's client has max_retries=0: 3 attempts reach the fake, not 9."""
    app, sentient = llm_app(providers(openai_fake), llm_retry_attempts=3)
    openai_fake.status = 503
    async with running(app):
        client = sentient.llm.sdk.openai("openai")
        with pytest.raises(ProviderError) as info:
            await sentient.llm.sdk.call(
                "openai",
                "gpt-test",
                lambda: client.chat.completions.create(model="gpt-test", messages=MESSAGES),
            )
        assert info.value.status == 503
        assert type(info.value.__cause__).__name__ == "InternalServerError"
    assert openai_fake.posts == 3


async def test_retry_after_is_honoured(openai_fake: FakeProvider) -> None:
    """A Retry-After of 0.3 s spaces the attempts by at least that much."""
    app, sentient = llm_app(providers(openai_fake), llm_retry_attempts=2)
    openai_fake.status = 429
    openai_fake.retry_after = "0.3"
    async with running(app):
        with pytest.raises(Exception, match="429"):
            await call(sentient)
    assert openai_fake.posts == 2
    gap = openai_fake.post_times[1] - openai_fake.post_times[0]
    assert gap >= 0.29


async def test_retry_after_beyond_the_cap_fails_at_once(openai_fake: FakeProvider) -> None:
    """A Retry-After longer than SENTIENT_LLM_RETRY_AFTER_CAP is not waited for."""
    app, sentient = llm_app(providers(openai_fake), llm_retry_attempts=3, llm_retry_after_cap=1.0)
    openai_fake.status = 503
    openai_fake.retry_after = "120"
    async with running(app):
        with pytest.raises(ProviderError):
            await call(sentient)
    assert openai_fake.posts == 1


async def test_retry_budget_caps_extra_traffic(openai_fake: FakeProvider) -> None:
    """With a budget of one retry, the first call retries once and later calls not at all."""
    app, sentient = llm_app(
        providers(openai_fake),
        llm_retry_attempts=3,
        llm_retry_budget_ratio=0.0,
        llm_retry_budget_min_per_second=0.1,
    )
    openai_fake.status = 503
    async with running(app):
        with pytest.raises(ProviderError):
            await call(sentient)
        assert openai_fake.posts == 2
        for _ in range(3):
            with pytest.raises(ProviderError):
                await call(sentient)
        text = generate_latest(sentient.metrics.registry).decode()
    assert openai_fake.posts == 5
    assert sample(text, "llm_retry_budget_exhausted_total", provider="openai") == 4


async def test_recovers_after_transient_failure(openai_fake: FakeProvider) -> None:
    """503 then 200: the retry serves the call and both attempts are recorded."""
    app, sentient = llm_app(providers(openai_fake), llm_retry_attempts=3)
    openai_fake.script.extend([503])
    async with running(app):
        result = await call(sentient)
    assert result.attempts == 2
    assert openai_fake.posts == 2


async def test_attempt_timeout_is_a_failure_and_retried(openai_fake: FakeProvider) -> None:
    """A stalled provider is cut at the provider timeout and the attempt is retried."""
    app, sentient = llm_app(providers(openai_fake, timeout=0.2), llm_retry_attempts=2)
    openai_fake.delay = 1.0
    async with running(app):
        from fastapi_sentient.llm import ProviderTimeoutError

        with pytest.raises(ProviderTimeoutError):
            await call(sentient)
        text = generate_latest(sentient.metrics.registry).decode()
    assert sample(text, "llm_requests_total", provider="openai", status="timeout") == 2
    assert sample(text, "gen_ai_client_operation_duration_seconds_count", error_type="timeout") == 2


async def test_total_deadline_bounds_the_call(openai_fake: FakeProvider) -> None:
    """SENTIENT_LLM_DEADLINE cuts retries short: the call ends near the deadline."""
    app, sentient = llm_app(
        providers(openai_fake, timeout=5.0), llm_retry_attempts=5, llm_deadline=0.5
    )
    openai_fake.delay = 2.0
    async with running(app):
        from fastapi_sentient.llm import ProviderTimeoutError

        # the provider would answer 200 after 2 s, within the 5 s attempt timeout:
        # only the 0.5 s deadline can end the call, and it leaves no time to retry
        with pytest.raises(ProviderTimeoutError):
            await call(sentient)
        assert openai_fake.posts == 1
