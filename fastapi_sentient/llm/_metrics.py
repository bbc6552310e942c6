"""The LLM layer's instruments: the ``llm_*`` metrics and the OTel GenAI histograms.

One sample per *attempt*: a call retried three times is three requests to the
provider, and that is what capacity planning and the provider's bill see.
Model labels are bounded by the caller (:meth:`Provider.model_label`): a model
the provider does not list in its configuration is recorded as ``other`` (a typo'd or user-chosen model name must
not mint a new series).  The GenAI histograms use the names, attribute names and
bucket boundaries of the OpenTelemetry GenAI semantic conventions, translated to
Prometheus (dots → underscores, ``s`` → ``_seconds``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi_sentient.llm._types import Usage
from fastapi_sentient.metrics._registry import Metrics

if TYPE_CHECKING:
    from fastapi_sentient.llm._outcome import Classification
    from fastapi_sentient.llm._provider import Target

OTHER = "other"

#: ``gen_ai.client.token.usage`` boundaries from the semantic conventions.
TOKEN_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
    4194304, 16777216, 67108864,
)  # fmt: skip
#: ``gen_ai.client.operation.duration`` boundaries from the semantic conventions.
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
#: Time-to-first-token boundaries (the conventions' server-side TTFT list).
TTFT_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: ``llm_request_duration_seconds`` buckets, with the long tail of agents.
REQUEST_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)

#: Every ``status`` of ``llm_requests_total`` (the outcomes of one attempt).
STATUSES = (
    "success", "error", "client_error", "throttled", "timeout", "circuit_open", "rejected",
    "cancelled",
)  # fmt: skip
#: Every ``type`` of ``llm_tokens_consumed_total``.
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")

_GENAI = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "server_address")


class LLMMetrics:
    """Records calls, tokens, cost, time to first token, fallbacks and retries."""

    def __init__(self, metrics: Metrics) -> None:
        self.requests = metrics.counter(
            "llm_requests_total",
            "LLM provider attempts by outcome (success, error, client_error, throttled, "
            "timeout, circuit_open, rejected, cancelled).",
            ("provider", "model", "status"),
        )
        self.duration = metrics.histogram(
            "llm_request_duration_seconds",
            "Duration of LLM provider attempts, seconds.",
            ("provider", "model"),
            buckets=REQUEST_BUCKETS,
        )
        self.tokens = metrics.counter(
            "llm_tokens_consumed_total",
            "Tokens consumed by LLM calls, by type: input (cache included), output (reasoning "
            "included), and their parts cache_read, cache_write, reasoning.",
            ("provider", "model", "type"),
        )
        self.cost = metrics.counter(
            "llm_cost_usd_total",
            "Cost of LLM calls in USD, from configured prices or genai-prices (unpriced models "
            "add nothing).",
            ("provider", "model"),
        )
        self.ttft = metrics.histogram(
            "llm_time_to_first_token_seconds",
            "Time from sending a streamed LLM request to its first chunk of text or of a tool "
            "call, seconds.",
            ("provider", "model"),
            buckets=TTFT_BUCKETS,
        )
        self.genai_ttfc = metrics.histogram(
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "OpenTelemetry gen_ai.client.operation.time_to_first_chunk: time to the first chunk "
            "of a streamed response.",
            _GENAI,
            buckets=TTFT_BUCKETS,
        )
        self.retries = metrics.counter(
            "llm_retries_total",
            "Retries of LLM calls, by the error that caused them.",
            ("provider", "model", "reason"),
        )
        self.budget_exhausted = metrics.counter(
            "llm_retry_budget_exhausted_total",
            "Retries refused because retries exceeded their share of calls.",
            ("provider",),
        )
        self.fallbacks = metrics.counter(
            "llm_fallbacks_total",
            "Targets of a fallback route skipped or failed, by reason.",
            ("route", "provider", "model", "reason"),
        )
        self.served = metrics.counter(
            "llm_route_served_total",
            "Calls to a fallback route by the target that served them.",
            ("route", "provider", "model"),
        )
        self.waiting = metrics.gauge(
            "llm_calls_waiting",
            "LLM calls waiting for a slot under their provider's max_concurrency.",
            ("provider",),
        )
        self.in_flight = metrics.gauge(
            "llm_calls_in_flight",
            "LLM calls holding a slot under their provider's max_concurrency.",
            ("provider",),
        )
        self.genai_tokens = metrics.histogram(
            "gen_ai_client_token_usage",
            "OpenTelemetry gen_ai.client.token.usage: tokens per operation.",
            (*_GENAI, "gen_ai_token_type"),
            buckets=TOKEN_BUCKETS,
        )
        self.genai_duration = metrics.histogram(
            "gen_ai_client_operation_duration_seconds",
            "OpenTelemetry gen_ai.client.operation.duration: duration of a GenAI operation.",
            (*_GENAI, "error_type"),
            buckets=DURATION_BUCKETS,
        )

    def prime(self, provider: str, models: list[str]) -> None:
        """Export a provider's series at zero from startup.

        Dashboards then show 0 rather than "no data", and an alert on the error
        ratio or on absence can fire before the first call.
        """
        for model in models:
            for status in STATUSES:
                self.requests.labels(provider, model, status)
            for kind in TOKEN_TYPES:
                self.tokens.labels(provider, model, kind)
            self.duration.labels(provider, model)
            self.cost.labels(provider, model)
        self.budget_exhausted.labels(provider)
        self.waiting.labels(provider)
        self.in_flight.labels(provider)

    def attempt(
        self,
        *,
        provider: str,
        kind: str,
        server: str,
        model: str,
        status: str,
        duration: float | None,
        error_type: str = "",
        usage: Usage | None = None,
        cost: float | None = None,
    ) -> None:
        """Record one attempt; ``model`` is already bounded, ``duration`` None: never sent.

        ``cost`` None (no known price) adds nothing to ``llm_cost_usd_total``.
        """
        label = model
        self.requests.labels(provider, label, status).inc()
        if duration is None:
            return
        self.duration.labels(provider, label).observe(duration)
        genai = ("chat", kind, label, server)
        self.genai_duration.labels(*genai, error_type).observe(duration)
        if usage is None:
            return
        for kind, count in usage.by_type().items():
            self.tokens.labels(provider, label, kind).inc(count)
        # gen_ai.token.type has input and output only; cache and reasoning are parts of them
        self.genai_tokens.labels(*genai, "input").observe(usage.input_tokens)
        self.genai_tokens.labels(*genai, "output").observe(usage.output_tokens)
        if cost is not None:
            self.cost.labels(provider, label).inc(max(cost, 0.0))

    def first_token(self, target: Target, seconds: float) -> None:
        """Record a stream's time to first token (ours and the GenAI conventions' name)."""
        provider = target.provider
        label = provider.model_label(target.model)
        self.ttft.labels(provider.name, label).observe(seconds)
        genai = ("chat", provider.genai_name, label, provider.server_address)
        self.genai_ttfc.labels(*genai).observe(seconds)

    def retry(self, provider: str, model: str, reason: str) -> None:
        """Record a retry."""
        self.retries.labels(provider, model, reason).inc()

    def record(
        self,
        target: Target,
        verdict: Classification,
        duration: float | None,
        usage: Usage | None = None,
        cost: float | None = None,
    ) -> None:
        """Record one attempt against ``target`` (model label bounded here)."""
        provider = target.provider
        self.attempt(
            provider=provider.name,
            kind=provider.genai_name,
            server=provider.server_address,
            model=provider.model_label(target.model),
            status=verdict.status,
            duration=duration,
            error_type=verdict.error_type,
            usage=usage,
            cost=cost,
        )

    def fell_back(self, route: str, target: Target, reason: str) -> None:
        """A route moved past ``target``."""
        label = target.provider.model_label(target.model)
        self.fallbacks.labels(route, target.provider.name, label, reason).inc()

    def served_by(self, route: str, target: Target) -> None:
        """A route's call was served by ``target``."""
        label = target.provider.model_label(target.model)
        self.served.labels(route, target.provider.name, label).inc()
