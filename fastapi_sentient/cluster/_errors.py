"""Errors of the cluster coordinator (all :class:`~fastapi_sentient.exceptions.ClusterError`).

::

    ClusterError
    ├── ClusterUnavailableError   the coordination store did not answer in time
    ├── LeadershipLostError       a leader-only action was attempted without leadership
    ├── StaleEpochError           a fenced resource rejected a write from an older leadership
    └── ConfigConflictError       compare-and-set lost: the configuration moved on
"""

from __future__ import annotations

from fastapi_sentient.exceptions import ClusterError


class ClusterUnavailableError(ClusterError):
    """Redis could not be reached (or did not answer within SENTIENT_CLUSTER_CALL_TIMEOUT)."""


class LeadershipLostError(ClusterError):
    """This node does not lead (any more); the leader-only action was not performed."""


class StaleEpochError(ClusterError):
    """A fenced write carried an epoch older than one the resource already accepted.

    Attributes:
        epoch: the epoch the write carried.
        current: the highest epoch the resource has accepted.
    """

    def __init__(self, epoch: int, current: int) -> None:
        self.epoch = epoch
        self.current = current
        super().__init__(
            f"write with leader epoch {epoch} rejected: the resource already accepted epoch "
            f"{current}; this node is no longer the leader"
        )


class ConfigConflictError(ClusterError):
    """``set_config`` expected a version that is no longer current.

    Attributes:
        expected: the version the caller based its change on.
        current: the version the store holds; re-read, merge and retry.
    """

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"configuration is at version {current}, not {expected}; "
            "re-read it with get_config() and retry"
        )
