"""Business metrics (auth, sessions, errors, agent quality, revenue) as typed methods.

Label values here often come from user input (a tier name, an error type, an
agent name), and every distinct value is a new Prometheus series that lives
until the process restarts.  So each label is bounded: labels with a known
vocabulary (results, tiers, severities, billing periods) accept only that
vocabulary, extensible by the constructor; open-ended ones (error types,
components, agent types, capabilities, interaction types) keep the first
``limit`` distinct values they see.  Anything else is recorded as ``other``.

::

    from fastapi_sentient._business_metrics import business_metrics

    business = business_metrics(sentient)
    business.record_auth_attempt("api_key", "success")
    business.record_agent_interaction("researcher", "web_search", quality_score=0.82)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from fastapi_sentient.metrics._registry import Metrics

OTHER = "other"
QUALITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SESSION_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)

TIERS = ("anonymous", "free", "basic", "pro", "team", "enterprise")
AUTH_TYPES = ("password", "api_key", "token", "oauth", "sso", "mfa", "session")
AUTH_RESULTS = ("success", "failure", "error")
IDENTIFIER_TYPES = ("ip", "user", "api_key", "session", "tenant")
SEVERITIES = ("debug", "info", "warning", "error", "critical", "low", "medium", "high")
BILLING_PERIODS = ("one_time", "daily", "weekly", "monthly", "quarterly", "yearly", "usage")


class BoundedLabel:
    """One label's allowed values: a fixed vocabulary, or the first ``limit`` seen."""

    def __init__(self, allowed: Iterable[str] | None = None, *, limit: int = 50) -> None:
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        normalized = str(value).strip().lower()[:64]
        if self.allowed is not None:
            return normalized if normalized in self.allowed else OTHER
        if normalized in self._seen:
            return normalized
        if normalized and len(self._seen) < self.limit:
            self._seen.add(normalized)
            return normalized
        return OTHER


class BusinessMetrics:
    """``auth_attempts_total``, ``rate_limit_hits_total``, ``active_sessions_total``,
    ``errors_total``, ``agent_response_quality_score``, ``user_interactions_total``,
    ``session_duration_seconds`` and ``revenue_usd_total``.
    """

    def __init__(
        self,
        metrics: Metrics,
        *,
        tiers: Iterable[str] = (),
        auth_types: Iterable[str] = (),
        limit: int = 50,
    ) -> None:
        tier = BoundedLabel((*TIERS, *tiers))
        self._labels = {
            "tier": tier,
            "auth_type": BoundedLabel((*AUTH_TYPES, *auth_types)),
            "auth_result": BoundedLabel(AUTH_RESULTS),
            "identifier_type": BoundedLabel(IDENTIFIER_TYPES),
            "severity": BoundedLabel(SEVERITIES),
            "billing_period": BoundedLabel(BILLING_PERIODS),
            "error_type": BoundedLabel(limit=limit),
            "component": BoundedLabel(limit=limit),
            "agent_type": BoundedLabel(limit=limit),
            "capability": BoundedLabel(limit=limit),
            "interaction_type": BoundedLabel(limit=limit),
        }
        m = metrics
        self.auth_attempts = m.counter(
            "auth_attempts_total", "Authentication attempts.", ("type", "result")
        )
        self.rate_limit_hits = m.counter(
            "rate_limit_hits_total",
            "Requests refused by a rate limit.",
            ("tier", "identifier_type"),
        )
        self.active_sessions = m.gauge(
            "active_sessions_total", "Sessions active now.", multiprocess_mode="livesum"
        )
        self.errors = m.counter(
            "errors_total", "Errors by type, severity and component.",
            ("error_type", "severity", "component"),
        )  # fmt: skip
        self.quality = m.histogram(
            "agent_response_quality_score",
            "Quality score of agent responses, 0 to 1.",
            ("agent_type", "capability"),
            buckets=QUALITY_BUCKETS,
        )
        self.interactions = m.counter(
            "user_interactions_total", "User interactions.", ("interaction_type", "user_tier")
        )
        self.session_duration = m.histogram(
            "session_duration_seconds",
            "Duration of user sessions, seconds.",
            ("user_tier",),
            buckets=SESSION_BUCKETS,
        )
        self.revenue = m.counter(
            "revenue_usd_total", "Revenue in USD.", ("subscription_tier", "billing_period")
        )

    def _label(self, kind: str, value: str) -> str:
        return self._labels[kind](value)

    def record_auth_attempt(
        self, type: str, result: Literal["success", "failure", "error"] | str
    ) -> None:
        """One authentication attempt (``type``: password, api_key, oauth, ...)."""
        self.auth_attempts.labels(
            self._label("auth_type", type), self._label("auth_result", result)
        ).inc()

    def prime(self) -> None:
        """Export the series of every fixed vocabulary at zero (auth attempts, rate-limit
        hits, revenue), so dashboards and absence alerts work before the first event."""
        for auth_type in sorted(self._labels["auth_type"].allowed or ()):
            for result in AUTH_RESULTS:
                self.auth_attempts.labels(auth_type, result)
        for tier in sorted(self._labels["tier"].allowed or ()):
            for identifier in IDENTIFIER_TYPES:
                self.rate_limit_hits.labels(tier, identifier)
            for period in BILLING_PERIODS:
                self.revenue.labels(tier, period)

    def record_rate_limit_hit(self, tier: str, identifier_type: str) -> None:
        """A request refused by a rate limit keyed by ``identifier_type`` (ip, user, ...)."""
        self.rate_limit_hits.labels(
            self._label("tier", tier), self._label("identifier_type", identifier_type)
        ).inc()

    def set_active_sessions(self, count: int) -> None:
        """Set the number of active sessions (this process's share in multiprocess mode)."""
        self.active_sessions.set(max(count, 0))

    def session_started(self) -> None:
        """One more active session."""
        self.active_sessions.inc()

    def session_ended(self, user_tier: str, duration: float) -> None:
        """One session fewer, and its duration observed."""
        self.active_sessions.dec()
        self.record_user_session(user_tier, duration)

    def record_error(self, error_type: str, severity: str, component: str) -> None:
        """An error the application counts (``severity``: info … critical, low … high)."""
        self.errors.labels(
            self._label("error_type", error_type),
            self._label("severity", severity),
            self._label("component", component),
        ).inc()

    def record_agent_interaction(
        self, agent_type: str, capability: str, quality_score: float
    ) -> None:
        """The quality score (clamped to 0..1) of one agent response."""
        self.quality.labels(
            self._label("agent_type", agent_type), self._label("capability", capability)
        ).observe(min(max(float(quality_score), 0.0), 1.0))

    def record_user_interaction(self, interaction_type: str, user_tier: str) -> None:
        """One user interaction (message, tool_call, feedback, ...)."""
        self.interactions.labels(
            self._label("interaction_type", interaction_type), self._label("tier", user_tier)
        ).inc()

    def record_user_session(self, user_tier: str, duration: float) -> None:
        """A finished session's duration in seconds."""
        self.session_duration.labels(self._label("tier", user_tier)).observe(max(duration, 0.0))

    def record_revenue(self, subscription_tier: str, billing_period: str, amount: float) -> None:
        """Revenue in USD; negative amounts (refunds) are refused, counters only grow."""
        if amount < 0:
            msg = "revenue amount must be >= 0 (record refunds in a metric of their own)"
            raise ValueError(msg)
        self.revenue.labels(
            self._label("tier", subscription_tier), self._label("billing_period", billing_period)
        ).inc(amount)


class HasBusinessMetrics(Protocol):
    """What holds an app's one facade: the :class:`~fastapi_sentient.Sentient` handle."""

    @property
    def business(self) -> BusinessMetrics:
        """The app's business metrics."""
        ...


def primed(metrics: Metrics) -> BusinessMetrics:
    """A new facade on ``metrics`` whose fixed vocabularies read 0 from now on.

    The handle builds one on first use (typically at import) and keeps it.
    """
    facade = BusinessMetrics(metrics)
    facade.prime()
    return facade


def business_metrics(source: HasBusinessMetrics) -> BusinessMetrics:
    """The business metrics facade of an app (one per plugin instance)."""
    return source.business
