"""What a person types into ``SENTIENT_*`` variables, made into settings.

Three helpers kept out of the settings model so it stays a list of fields:

* list settings take a comma list (``/a,/b``) as well as JSON (``["/a", "/b"]``);
* lease, renew, retry and call timings left unset follow the ones that were set,
  keeping the default ratios, so setting one alone is never refused;
* a ``SENTIENT_*`` variable nobody reads is a typo until proven otherwise: one
  warning names the closest known variable.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

logger = logging.getLogger("fastapi_sentient.settings")


def comma_list(value: Any) -> Any:
    """``a,b`` → ``["a", "b"]``; a JSON list stays JSON; anything else is left to validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            msg = 'not a valid JSON list; use a comma list (a,b) or JSON (["a", "b"])'
            raise ValueError(msg) from None
    return [item.strip() for item in text.split(",") if item.strip()]


def derive_timings(values: dict[str, float], explicit: Iterable[str]) -> dict[str, float]:
    """Unset cluster timings that follow the set ones, keeping the default ratios.

    The defaults (lease 15, renew 10, retry 2, call timeout 1, node TTL 10,
    heartbeat 2) hold as long as they satisfy the checks against what the user
    set; a default that would not is replaced by the value the default ratio
    gives from its neighbour (renew = ⅔ lease = 5 × retry, call = ½ retry,
    node TTL = 5 × heartbeat).
    """
    given = set(explicit)
    v = dict(values)
    if "renew_deadline" not in given:
        if "lease_ttl" in given and not v["lease_ttl"] > v["renew_deadline"]:
            v["renew_deadline"] = v["lease_ttl"] * 2 / 3
        if "retry_period" in given and not v["renew_deadline"] > 1.2 * v["retry_period"]:
            v["renew_deadline"] = v["retry_period"] * 5
    if "lease_ttl" not in given and not v["lease_ttl"] > v["renew_deadline"]:
        v["lease_ttl"] = v["renew_deadline"] * 1.5
    if "retry_period" not in given and not v["renew_deadline"] > 1.2 * v["retry_period"]:
        v["retry_period"] = v["renew_deadline"] / 5
    if "cluster_call_timeout" not in given and not v["cluster_call_timeout"] < v["retry_period"]:
        v["cluster_call_timeout"] = v["retry_period"] / 2
    if "node_ttl" not in given and not v["node_ttl"] >= 2 * v["heartbeat_interval"]:
        v["node_ttl"] = v["heartbeat_interval"] * 5
    if "heartbeat_interval" not in given and not v["node_ttl"] >= 2 * v["heartbeat_interval"]:
        v["heartbeat_interval"] = v["node_ttl"] / 5
    return v


def warn_unknown(environ: Mapping[str, str], prefix: str, known: Iterable[str]) -> list[str]:
    """Log one warning per ``prefix*`` variable that is not a setting; returns them."""
    names = sorted(set(known))
    unknown = sorted(name for name in environ if name.startswith(prefix) and name not in names)
    # compared without the shared prefix, which would make every name look close
    bare = [name[len(prefix) :] for name in names]
    for name in unknown:
        close = difflib.get_close_matches(name[len(prefix) :], bare, n=1, cutoff=0.75)
        hint = f"; did you mean {prefix}{close[0]}?" if close else ""
        logger.warning("unknown setting %s is ignored%s", name, hint)
    return unknown
