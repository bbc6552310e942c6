"""The Redis keys of one cluster group.

Every key shares the hash tag ``{<cluster_name>}``, so in Redis Cluster they
all live in one slot and every script touching several of them is legal.  The
names are fixed (no per-node keys), so nothing ever needs ``KEYS`` or ``SCAN``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi_sentient.exceptions import ConfigurationError

_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under ``sentient:{<cluster>}:``."""

    prefix: str

    @classmethod
    def for_cluster(cls, name: str) -> Keys:
        """Keys of the cluster group ``name`` (letters, digits, ``_ . : -``)."""
        if not _NAME.match(name):
            msg = (
                f"SENTIENT_CLUSTER_NAME={name!r}: use 1-100 letters, digits or _ . : - "
                "(braces would break the shared hash tag)"
            )
            raise ConfigurationError(msg)
        return cls(prefix=f"sentient:{{{name}}}:")

    @property
    def leader(self) -> str:
        """HASH tok/node/inc/epoch/since, expiring after the lease."""
        return self.prefix + "leader"

    @property
    def epoch(self) -> str:
        """STRING: the fencing counter."""
        return self.prefix + "epoch"

    @property
    def boot(self) -> str:
        """STRING: the store generation; its absence means the dataset was lost."""
        return self.prefix + "boot"

    @property
    def replid(self) -> str:
        """STRING: the replication id of the server that wrote the data (a change means a promotion)."""
        return self.prefix + "replid"

    @property
    def holdoff(self) -> str:
        """STRING: blocks elections for one lease after data loss."""
        return self.prefix + "holdoff"

    @property
    def members(self) -> str:
        """ZSET node → last heartbeat (Redis server ms)."""
        return self.prefix + "members"

    @property
    def nodes(self) -> str:
        """HASH node → member document (JSON)."""
        return self.prefix + "nodes"

    @property
    def roster(self) -> str:
        """HASH v (bumped whenever a member joins, leaves or changes its document) and floor
        (the oldest version ``changes`` still answers for)."""
        return self.prefix + "roster"

    @property
    def changes(self) -> str:
        """ZSET node → roster version of its last change (departed nodes stay a while)."""
        return self.prefix + "changes"

    @property
    def services(self) -> str:
        """HASH service id → service document (JSON)."""
        return self.prefix + "services"

    @property
    def events(self) -> str:
        """STREAM of elected, released, node-joined, node-left, config-changed, store-reset."""
        return self.prefix + "events"

    @property
    def config(self) -> str:
        """HASH v (version) and data (JSON)."""
        return self.prefix + "config"

    @property
    def channel(self) -> str:
        """Pub/Sub channel ringing the watch loops on new config versions and elections (a hint)."""
        return self.prefix + "config-changed"
