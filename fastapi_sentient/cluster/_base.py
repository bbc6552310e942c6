"""The cluster API both backends implement, and the machinery they share.

``sentient.cluster`` is a :class:`Coordinator`: the embedded single-node one
when ``SENTIENT_REDIS_URL`` is unset, the Redis one otherwise.  Code written
against it (leader tasks, config callbacks, service discovery) runs unchanged
on a laptop and in a fleet.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeVar, overload

from fastapi_sentient.cluster._config_state import AppliedConfig, ConfigCallback
from fastapi_sentient.cluster._events import ClusterEvent, EventBus, Listener
from fastapi_sentient.cluster._leadership import LeaderFunction, Leadership, LeaderWork
from fastapi_sentient.cluster._model import ClusterHealth, NodeRecord, ServiceInstance
from fastapi_sentient.cluster._node import describe_node
from fastapi_sentient.cluster._observability import ClusterMetrics, cluster_check
from fastapi_sentient.health._result import HealthStatus, aggregate

if TYPE_CHECKING:
    from fastapi_sentient._lifecycle import Lifecycle
    from fastapi_sentient._redact import Redactor
    from fastapi_sentient._settings_groups import ClusterSettings, IdentitySettings
    from fastapi_sentient.health._registry import HealthRegistry
    from fastapi_sentient.metrics._registry import Metrics

logger = logging.getLogger("fastapi_sentient.cluster")

LF = TypeVar("LF", bound=LeaderFunction)
CF = TypeVar("CF", bound=ConfigCallback)
EL = TypeVar("EL", bound=Listener)

CHECK_NAME = "cluster"


class CoordinatorInputs(TypedDict):
    """What every coordinator is built from (the keyword arguments of :class:`Coordinator`)."""

    cluster: ClusterSettings
    identity: IdentitySettings
    metrics: Metrics
    health: HealthRegistry
    lifecycle: Lifecycle
    redactor: Redactor
    node_id: Callable[[], str]
    port: Callable[[], int | None]
    health_path: NotRequired[str]


class Coordinator(ABC):
    """Membership, leader election with fencing, service registry and shared configuration.

    The component is started before the user's lifespan and stopped after it.
    It takes only what it uses: its settings, where it reports (metrics, the
    health registry, the lifecycle), the redactor for the secrets it handles,
    and providers of the node id and serving port, which are known only once
    the server has started.
    """

    name = "cluster"
    backend = "abstract"

    def __init__(
        self,
        *,
        cluster: ClusterSettings,
        identity: IdentitySettings,
        metrics: Metrics,
        health: HealthRegistry,
        lifecycle: Lifecycle,
        redactor: Redactor,
        node_id: Callable[[], str],
        port: Callable[[], int | None],
        health_path: str = "/health",
    ) -> None:
        self.settings = cluster
        self.identity = identity
        self._health = health
        self._lifecycle = lifecycle
        self._redact = redactor
        self._node_id = node_id
        self._port = port
        self._health_path = health_path
        self.events = EventBus()
        self._work = LeaderWork(restart_delay=cluster.retry_period)
        self.config = AppliedConfig(self.events)
        self._metrics = ClusterMetrics(metrics)

    # --- component ------------------------------------------------------------------------

    @abstractmethod
    async def start(self) -> None:
        """Join the cluster and start the background loops."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop leader tasks, release leadership, leave; never raises."""

    # --- identity and leadership ----------------------------------------------------------

    @property
    def node_id(self) -> str:
        """This process's identity in the cluster."""
        return self._node_id()

    @property
    @abstractmethod
    def is_leader(self) -> bool:
        """True only while this node leads and its local lease deadline has not passed."""

    @property
    @abstractmethod
    def leadership(self) -> Leadership | None:
        """The current term when this node leads, else None."""

    @property
    def epoch(self) -> int | None:
        """The fencing token of this node's current leadership (None when not leading)."""
        lead = self.leadership
        return lead.epoch if lead is not None and lead.valid else None

    @abstractmethod
    def observe_epoch(self, epoch: int) -> None:
        """Report an epoch a fenced resource has seen: later elections issue greater ones.

        Feed it what :func:`fenced_epoch` or :meth:`RedisFence.epoch` return
        (at startup, say), so a node that has never seen the newest epoch does
        not have to be rejected once to learn it.
        """

    # --- membership -----------------------------------------------------------------------

    @abstractmethod
    async def members(self) -> list[NodeRecord]:
        """The live members, this node included, as the store says now."""

    @abstractmethod
    async def leader(self) -> NodeRecord | None:
        """The current leader's record, or None while there is none."""

    @abstractmethod
    def cluster_health(self) -> ClusterHealth:
        """This node's latest view of the cluster (cached: no I/O)."""

    # --- service registry -----------------------------------------------------------------

    @abstractmethod
    async def register_service(
        self,
        name: str,
        *,
        port: int | None = None,
        address: str | None = None,
        version: str | None = None,
        health_url: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        metadata: dict[str, str] | None = None,
        service_id: str | None = None,
    ) -> ServiceInstance:
        """Announce a service this node provides; it lives as long as this node does."""

    @abstractmethod
    async def unregister_service(self, service_id: str) -> bool:
        """Withdraw one of this node's services; True if it was registered."""

    @abstractmethod
    async def discover_services(self, name: str) -> list[ServiceInstance]:
        """Instances of ``name`` on live nodes."""

    # --- configuration --------------------------------------------------------------------

    @abstractmethod
    async def get_config(self) -> tuple[int, Any]:
        """The current ``(version, data)``; version 0 means nothing was ever set."""

    @abstractmethod
    async def set_config(self, data: Any, expected_version: int) -> int:
        """Compare-and-set: store ``data`` if the version is still ``expected_version``.

        Returns:
            The new version.

        Raises:
            ConfigConflictError: another writer got there first (re-read and retry).
        """

    # --- registration of user code -----------------------------------------------------------

    def leader_task(self, function: LF) -> LF:
        """Decorator: run ``async def work(leadership)`` only while this node leads.

        The task is cancelled and awaited at step-down, before another node can
        be elected; a task that raises is logged and restarted after the retry
        period while the term lasts.
        """
        self._work.add(function)
        return function

    def on_config_change(self, callback: CF) -> CF:
        """Decorator: call ``callback(version, data)`` once per newly applied version."""
        self.config.callbacks.append(callback)
        return callback

    @overload
    def on(self, event: str) -> Callable[[EL], EL]: ...

    @overload
    def on(self, event: str, listener: EL) -> EL: ...

    def on(self, event: str, listener: EL | None = None) -> Callable[[EL], EL] | EL:
        """Call ``listener(event)`` for each event of that type (see :mod:`.events`).

        ``cluster.on("elected", listener)`` registers at once and
        ``@cluster.on("elected")`` as a decorator; both return the listener.
        Unknown event types raise ``ValueError``.
        """
        if listener is not None:
            self.events.add(event, listener)
            return listener

        def register(function: EL) -> EL:
            self.events.add(event, function)
            return function

        return register

    # --- shared machinery -------------------------------------------------------------------

    def _describe(self, incarnation: str, started_at: float | None) -> NodeRecord:
        """This node's member record as of now."""
        return describe_node(
            self.identity,
            self.settings.roles,
            self.node_id,
            self._port(),
            incarnation=incarnation,
            status=self._local_status(),
            started_at=started_at,
        )

    def _register_check(self) -> None:
        if CHECK_NAME not in self._health.checks:
            self._health.add(
                CHECK_NAME,
                cluster_check(self.cluster_health),
                type="cluster",
                critical=self.settings.critical,
                interval=self.settings.heartbeat_interval,
            )

    def _local_status(self) -> str:
        """This node's own health (the cluster check left out, or it would feed on itself)."""
        checks = self._health.checks
        statuses = [c.status for name, c in checks.items() if name != CHECK_NAME]
        return aggregate(statuses).value if statuses else HealthStatus.HEALTHY.value

    def _began_leading(self, leadership: Leadership) -> None:
        self._metrics.leading(True)
        logger.info("%s elected leader (epoch %d)", self.node_id, leadership.epoch)
        self.events.emit(ClusterEvent("elected", node_id=self.node_id, epoch=leadership.epoch))
        self._work.start(leadership)

    async def _stop_leading(self, leadership: Leadership, reason: str, bound: float) -> bool:
        """End the term: mark it lost, cancel and await leader tasks; True if they stopped."""
        leadership.end()
        self._metrics.leading(False)
        stopped = await self._work.stop(bound)
        logger.info("%s stopped leading (epoch %d): %s", self.node_id, leadership.epoch, reason)
        self.events.emit(
            ClusterEvent(
                "stopped_leading", node_id=self.node_id, epoch=leadership.epoch, reason=reason
            )
        )
        if not stopped:
            self._lifecycle.fail(
                f"leader tasks of epoch {leadership.epoch} did not stop within {bound:g}s "
                "after losing leadership"
            )
        return stopped
