"""Whether this replica may act: kopf's peering rule, applied to our own background work.

kopf pauses its watches and handlers on a standby replica, but not tasks the operator started
itself (the scheduler): those would keep polling ENS and writing status from a frozen index. kopf
exposes its pause to no public API, so the gate reads the peering objects (a ClusterKopfPeering, or
a KopfPeering per served namespace) and applies kopf's rule: pause while any live peer has a
priority higher than ours or equal to it (kopf freezes every peer of an equal priority). It leans
toward pausing: one reading suffices to stop, two consecutive ones are needed to start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ens_image_operator.metrics import ACTIVE
from ens_image_operator.reconcile.conditions import parse_time

log = logging.getLogger(__name__)

PEERING_GROUP = "kopf.dev/v1"
DEFAULT_LIFETIME = 60  # seconds; what kopf assumes for a record without one


class PeeringReader(Protocol):
    async def get_path(self, path: str) -> dict[str, Any] | None: ...


def blocking_peers(status: Mapping[str, Any], identity: str, priority: int, now: datetime) -> list[str]:
    """Identities of the live peers that keep us paused (priority not lower than ours)."""
    blockers = []
    for peer, record in status.items():
        if peer == identity or not isinstance(record, Mapping):
            continue
        seen = parse_time(record.get("lastseen"))
        lifetime = timedelta(seconds=int(record.get("lifetime") or DEFAULT_LIFETIME))
        if seen is not None and seen + lifetime <= now:
            continue  # dead: kopf ignores it too
        if int(record.get("priority") or 0) >= priority:
            blockers.append(peer)
    return blockers


def peering_paths(name: str, namespaces: Sequence[str]) -> list[str]:
    """The peering objects kopf uses: one cluster-wide, or one per served namespace."""
    if not namespaces:
        return [f"/apis/{PEERING_GROUP}/clusterkopfpeerings/{name}"]
    return [f"/apis/{PEERING_GROUP}/namespaces/{ns}/kopfpeerings/{name}" for ns in namespaces]


class PeeringGate:
    """Open while this replica is the active one; always open for a standalone operator."""

    def __init__(
        self,
        reader: PeeringReader | None = None,
        paths: Sequence[str] = (),
        *,
        identity: str = "",
        priority: int = 0,
        interval: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reader = reader
        self._paths = list(paths)
        self.identity = identity
        self.priority = priority
        self.interval = interval
        self._clock = clock
        self._open = asyncio.Event()
        if reader is None:
            self._open.set()
        ACTIVE.set(1 if self.active else 0)

    @property
    def active(self) -> bool:
        return self._open.is_set()

    async def wait_active(self) -> None:
        await self._open.wait()

    async def allowed(self) -> bool:
        """One reading: every peering object exists and no live peer outranks or equals us."""
        assert self._reader is not None
        for path in self._paths:
            body = await self._reader.get_path(path)
            if body is None:
                return False  # kopf stays paused without its peering object, and so do we
            if blocking_peers(body.get("status") or {}, self.identity, self.priority, self._clock()):
                return False
        return True

    async def run(self, on_pause: Callable[[], None]) -> None:
        """Forever: read the peering objects every interval, open or close the gate."""
        if self._reader is None:
            return
        allowed_before = False
        while True:
            try:
                allowed = await self.allowed()
            except Exception as error:  # unreadable: we cannot know, so we do not act
                log.warning("peering objects unreadable (%s): pausing", type(error).__name__)
                allowed = False
            if not allowed and self.active:
                log.info("another replica is active: pausing ENS calls and status writes")
                self._open.clear()
                ACTIVE.set(0)
                on_pause()
            elif allowed and allowed_before and not self.active:
                log.info("this replica is active: resuming")
                self._open.set()
                ACTIVE.set(1)
            allowed_before = allowed
            await asyncio.sleep(self.interval)
