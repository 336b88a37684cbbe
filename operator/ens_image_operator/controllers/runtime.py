"""Everything the handlers share: settings, clients, reconcilers, per-object locks and schedules."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ens_image_operator.api.catalog import EnsImageCatalogSpec, EnsImageCatalogStatus
from ens_image_operator.api.export import EnsImageExportSpec, EnsImageExportStatus
from ens_image_operator.api.image import EnsImageSpec, EnsImageStatus
from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_CATALOG, ENS_IMAGE_EXPORT, Kind
from ens_image_operator.controllers.index import ObjectIndex
from ens_image_operator.controllers.kopf_storage import MemoryDiffBaseStorage
from ens_image_operator.controllers.kube import KubeApi, KubeConflict
from ens_image_operator.controllers.ownership import Claims
from ens_image_operator.controllers.peering import PeeringGate
from ens_image_operator.credentials_scope import CredentialScopes
from ens_image_operator.metrics import KUBE_WRITES
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.ports import EventType, ObjectChanged, ObjectGone
from ens_image_operator.reconcile.timing import Backoffs
from ens_image_operator.settings import Settings

# Reconcile passes running at once. More would only queue their requests inside the HTTP clients'
# connection pools, whose bookkeeping costs CPU per queued request (quadratic in a burst).
PASS_LIMIT = 32

# Strong references to event posts in flight (the loop keeps only weak ones).
_PENDING_EVENTS: set[asyncio.Task[None]] = set()


def utc_now() -> datetime:
    return datetime.now(UTC)


def _revision(body: Mapping[str, Any]) -> int | None:
    raw = (body.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(raw)) if raw is not None else None
    except ValueError:  # opaque on some API servers: then no comparison is possible
        return None


class WrittenStatuses:
    """The status we last wrote per object, until the watch stream has caught up with it.

    kopf hands timers the last body it saw, and the scheduler hands a cycle's passes the bodies its
    index held when the cycle began; a pass from a body older than our own write would decide from
    a status older than what is stored, and write the same status (and post the same event) again.
    An entry leaves once a body as new as the write arrives, at a pass or at the watch event the
    index handlers see, so only writes the watch has not delivered yet are held. Beside them, the
    newest resourceVersion the watch delivered per object (one integer each) tells a pass that its
    body was superseded after the cycle took it.
    """

    def __init__(self) -> None:
        self._latest: dict[str, tuple[int, dict[str, Any]]] = {}
        self._delivered: dict[str, int] = {}

    def record(self, uid: str, stored: Mapping[str, Any]) -> None:
        revision = _revision(stored)
        if uid and revision is not None:
            self._latest[uid] = (revision, dict(stored.get("status") or {}))

    def current(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """``body``, with the status we wrote if the body predates that write."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        entry = self._latest.get(uid)
        if entry is None:
            return body
        seen = _revision(body)
        if seen is None or seen >= entry[0]:
            del self._latest[uid]
            return body
        return {**body, "status": entry[1]}

    def seen(self, body: Mapping[str, Any]) -> None:
        """The watch delivered ``body``: remember its version; forget our write once it caught up."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        revision = _revision(body)
        if not uid or revision is None:
            return
        if revision > self._delivered.get(uid, -1):
            self._delivered[uid] = revision
        entry = self._latest.get(uid)
        if entry is not None and revision >= entry[0]:
            del self._latest[uid]

    def superseded(self, body: Mapping[str, Any]) -> bool:
        """Whether the watch has delivered a newer version of this object than ``body``."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        revision = _revision(body)
        return revision is not None and revision < self._delivered.get(uid, -1)

    def as_delivered(self, body: Mapping[str, Any]) -> bool:
        """Whether ``body`` is the newest version the watch delivered, with no write of ours after it."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        revision = _revision(body)
        if not uid or revision is None or uid in self._latest:
            return False
        return revision >= self._delivered.get(uid, -1)

    def forget(self, uid: str) -> None:
        """What we wrote no longer holds (a write lost to another writer, a finished deletion)."""
        self._latest.pop(uid, None)

    def gone(self, uid: str) -> None:
        """The object was deleted: nothing of it is kept."""
        self._latest.pop(uid, None)
        self._delivered.pop(uid, None)

    def __len__(self) -> int:
        """Writes the watch has not delivered yet."""
        return len(self._latest)


@dataclass
class Runtime:
    """The operator's process-wide state, kept in kopf's memo."""

    settings: Settings
    kube: KubeApi
    scopes: CredentialScopes
    images: Reconciler[EnsImageSpec, EnsImageStatus]
    exports: Reconciler[EnsImageExportSpec, EnsImageExportStatus]
    catalogs: Reconciler[EnsImageCatalogSpec, EnsImageCatalogStatus]
    backoffs: Backoffs
    written: WrittenStatuses = field(default_factory=WrittenStatuses)
    # Per-kind indexes of what the scheduler needs, kept up to date by event handlers.
    indexes: dict[str, ObjectIndex[Any]] = field(default_factory=dict)
    # Who claims which image id and ENS name (one manager per image, one name per account).
    claims: Claims = field(default_factory=Claims)
    # Open while this replica may call ENS and write status (always, when standalone).
    gate: PeeringGate = field(default_factory=PeeringGate)
    # kopf's last-handled essences (its diff-base storage), to forget deleted objects.
    handled: MemoryDiffBaseStorage | None = None
    # Taken inside an object's lock, never around one: a pass holding a slot never waits for a lock.
    passes: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PASS_LIMIT))
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    def forget_cache(self) -> None:
        """Drop what was learnt while active: another replica acts now, so it all goes stale."""
        for index in self.indexes.values():
            index.clear()
        self.claims.clear()
        self.written = WrittenStatuses()
        for snapshots in self.scopes.scopes():
            snapshots.invalidate()

    def reconciler(self, kind: Kind) -> Reconciler[Any, Any]:
        """The reconcile loop of ``kind``."""
        by_kind: dict[str, Reconciler[Any, Any]] = {
            ENS_IMAGE.kind: self.images,
            ENS_IMAGE_EXPORT.kind: self.exports,
            ENS_IMAGE_CATALOG.kind: self.catalogs,
        }
        return by_kind[kind.kind]

    def lock(self, uid: str) -> asyncio.Lock:
        """The lock serialising passes over one object (handler and timer may fire together)."""
        lock = self._locks.get(uid)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[uid] = lock
        return lock


def _keeping_ids(patch: Mapping[str, Any]) -> dict[str, Any]:
    """``patch`` without a removal of ``imageId``: once recorded, an image id is never cleared."""
    return {key: value for key, value in patch.items() if not (key == "imageId" and value is None)}


class KubeHandle:
    """An :class:`~ens_image_operator.reconcile.ports.ObjectHandle` over the Kubernetes API and kopf."""

    def __init__(
        self,
        kube: KubeApi,
        kind: Kind,
        body: Mapping[str, Any],
        written: WrittenStatuses | None = None,
        *,
        current: bool = False,
    ) -> None:
        self._kube = kube
        self._kind = kind
        self._body = body
        self._written = written
        # ``body`` is the newest version there is to know of (kopf's handler body, a fresh read):
        # a claim may be conditional on it without reading the object again (``fresh_status``).
        self._current = current
        metadata = body.get("metadata") or {}
        self.namespace = str(metadata.get("namespace") or "")
        self.name = str(metadata.get("name") or "")
        self.uid = str(metadata.get("uid") or "")
        # The version a conditional write expects: the last one read, else the delivered body's.
        version = metadata.get("resourceVersion")
        self._version: str | None = str(version) if version is not None else None

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        KUBE_WRITES.labels(what="status").inc()
        stored = await self._kube.patch_status(self._kind, self.namespace, self.name, _keeping_ids(patch))
        self._stored(stored)

    async def claim_status(self, patch: Mapping[str, Any]) -> None:
        KUBE_WRITES.labels(what="status").inc()
        try:
            stored = await self._kube.patch_status(
                self._kind, self.namespace, self.name, _keeping_ids(patch), resource_version=self._version
            )
        except KubeConflict as conflict:
            raise ObjectChanged(str(conflict)) from None
        if stored is None:
            raise ObjectGone(f"{self._kind.kind} {self.namespace}/{self.name} no longer exists")
        self._stored(stored)

    def _stored(self, stored: Mapping[str, Any] | None) -> None:
        if stored is None:
            return
        version = (stored.get("metadata") or {}).get("resourceVersion")
        self._version = str(version) if version is not None else self._version
        if self._written is not None:
            self._written.record(self.uid, stored)

    async def fresh_status(self, *, before_claim: bool = False) -> dict[str, Any]:
        if (
            before_claim
            and self._current
            and self._written is not None
            and self._written.as_delivered(self._body)
        ):
            # The claim that follows is conditional on this very version (``_version``): a read
            # would only repeat what the watch delivered.
            return dict(self._body.get("status") or {})
        body = await self._kube.get(self._kind, self.namespace, self.name)
        if body is not None:
            version = (body.get("metadata") or {}).get("resourceVersion")
            self._version = str(version) if version is not None else None
        status: dict[str, Any] = (body or {}).get("status") or {}
        return status

    def event(self, type_: EventType, reason: str, message: str) -> None:
        # Posted by our own client rather than kopf.event: passes also run from the background drift
        # task, outside the handler context kopf's event queue lives in.
        KUBE_WRITES.labels(what="event").inc()
        task = asyncio.get_running_loop().create_task(
            self._kube.post_event(self._body, type_, reason, message)
        )
        _PENDING_EVENTS.add(task)
        task.add_done_callback(_PENDING_EVENTS.discard)
