"""Keeping the shared configuration in step with Redis.

Correctness never rests on a message arriving: the version in the store is
compared with the applied one at every poll, and a newer one is read in full
(``(version, data)`` together) before it is applied.  The group's stream is
read from the position taken atomically with the startup snapshot, so no
change between the two is missed; Pub/Sub only wakes the poll early.  A
paused node, one that lost its connection, or one whose stream position was
trimmed away converges at its next poll, jumping straight to the latest
version.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi_sentient.cluster._config_state import AppliedConfig
from fastapi_sentient.cluster._errors import ConfigConflictError
from fastapi_sentient.cluster._store import POLL_COUNT, Polled, Store, StreamEntry

logger = logging.getLogger("fastapi_sentient.cluster")


def _stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``ms-seq``) as a pair that orders like the stream."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _decode(document: str) -> Any:
    return json.loads(document) if document else None


class ConfigWatcher:
    """Reads, compares-and-sets and follows the group's configuration document."""

    def __init__(
        self,
        store: Store,
        applied: AppliedConfig,
        *,
        on_entry: Callable[[StreamEntry], None],
        on_reset: Callable[[], None],
    ) -> None:
        self._store = store
        self._applied = applied
        self._on_entry = on_entry
        self._on_reset = on_reset
        self.position: str | None = None
        self.generation: str | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Take the stream position and the snapshot atomically; apply the snapshot."""
        position, generation, version, document = await self._store.watch_start()
        self.position = position
        self.generation = generation
        await self._applied.apply(version, _decode(document))

    async def poll(self) -> None:
        """Deliver new stream entries and apply a newer version if there is one.

        Raises:
            ClusterUnavailableError: Redis did not answer.
        """
        async with self._lock:
            await self._poll()

    async def deliver(self, polled: Polled) -> None:
        """Take a read the heartbeat made for us (:meth:`poll` without its round trip).

        The watch loop may have polled since the heartbeat read: entries at or
        before the position reached since are skipped, so none is delivered twice.

        Raises:
            ClusterUnavailableError: Redis did not answer a follow-up read.
        """
        async with self._lock:
            if self.position is None:
                await self.start()
            elif await self._take(polled):
                await self._poll()

    async def _poll(self) -> None:
        if self.position is None:
            await self.start()
            return
        while await self._take(await self._store.poll(self.position)):
            pass

    async def _take(self, polled: Polled) -> bool:
        """Apply one read; True when the stream may hold more entries than it returned."""
        if self._store_was_reset(polled.generation):
            logger.warning("the cluster store lost its data; re-reading the configuration")
            self._applied.reset()
            self._on_reset()
            await self.start()
            return False
        for entry in polled.entries:
            if self.position is None or _stream_id(entry.id) > _stream_id(self.position):
                self.position = entry.id
                self._on_entry(entry)
        if len(polled.entries) >= POLL_COUNT:
            return True
        if polled.version > self._applied.version:
            await self._read()
        return False

    def _store_was_reset(self, generation: str) -> bool:
        previous, self.generation = self.generation, generation
        # '' → x is a brand-new store getting its marker; x → y or x → '' is a wipe
        return bool(previous) and generation != previous

    async def _read(self) -> None:
        generation, version, document = await self._store.get_config()
        if self._store_was_reset(generation):
            self._applied.reset()
            self._on_reset()
        await self._applied.apply(version, _decode(document))

    async def get(self) -> tuple[int, Any]:
        """The current ``(version, data)`` straight from the store."""
        _generation, version, document = await self._store.get_config()
        return version, _decode(document)

    async def set(self, data: Any, expected_version: int) -> int:
        """Compare-and-set; applies the new version locally before returning it."""
        document = json.dumps(data, separators=(",", ":"))
        won, version = await self._store.set_config(expected_version, document)
        if not won:
            raise ConfigConflictError(expected_version, version)
        await self._applied.apply(version, json.loads(document))
        return version
