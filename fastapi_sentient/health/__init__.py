"""Health checks: registry, results, built-in system checks and the check catalogue."""

from fastapi_sentient.health._registry import CheckState, HealthRegistry
from fastapi_sentient.health._result import CheckResult, HealthStatus, aggregate

__all__ = ["CheckResult", "CheckState", "HealthRegistry", "HealthStatus", "aggregate"]
