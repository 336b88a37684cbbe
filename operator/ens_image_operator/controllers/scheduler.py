"""One background task instead of a kopf timer per object: fast passes, drift checks, gauges.

kopf keeps the full body of every object of a kind that has timers, for as long as the object
exists, and runs each timer as its own task. With thousands of stable EnsImages that alone breaks
the memory budget. So an index (``index.py``) keeps a few fields per object (and a slim body only
while the object needs polling), and this one task:

- every fast_poll_interval, runs a pass for each object in flight (they all read the shared,
  coalesced snapshot of their credentials scope, see ``poller.py``);
- every slow_poll_interval, compares each stable EnsImage with that snapshot and reconciles only
  the ones whose image changed in ENS;
- every few seconds, updates the resource gauges.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from ens_image_operator import GROUP
from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_CATALOG, ENS_IMAGE_EXPORT, Kind
from ens_image_operator.controllers.runtime import PASS_LIMIT, Runtime
from ens_image_operator.metrics import set_resources
from ens_image_operator.reconcile import conditions
from ens_image_operator.reconcile.loop import should_poll
from ens_image_operator.reconcile.ports import ObjectView, Snapshots

log = logging.getLogger(__name__)

IMAGE_INDEX = "ensimage_index"
EXPORT_INDEX = "ensimageexport_index"
CATALOG_INDEX = "ensimagecatalog_index"
INDEX_IDS = (IMAGE_INDEX, EXPORT_INDEX, CATALOG_INDEX)
GAUGE_PERIOD = 15.0


# Annotations a pass never reads; dropped from the slim bodies kept for objects in flight.
_HEAVY_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    f"{GROUP}/last-handled-configuration",
)

PassFn = Callable[..., Awaitable[None]]  # run_pass(runtime, kind, body, *, force=False)


class ImageEntry(NamedTuple):
    """What the scheduler needs to know about one EnsImage."""

    image_id: str | None
    image_status: str | None
    ready: str
    credentials_ref: str | None
    stable: bool
    body: dict[str, Any] | None  # only while the object needs polling
    shares: bool = False  # spec.sharedWith manages the share list: checked at every drift check


class ExportEntry(NamedTuple):
    """What the scheduler, and deletion of an EnsImage, need to know about one export."""

    image_ref: str | None
    image_id: str | None
    running: bool
    ready: str
    body: dict[str, Any] | None  # only while the object needs polling


def slim_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a pass reads of an object: identity, annotations, spec and status."""
    metadata = body.get("metadata") or {}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k not in _HEAVY_ANNOTATIONS
    }
    keep = ("name", "namespace", "uid", "generation", "resourceVersion", "deletionTimestamp")
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {**{k: metadata[k] for k in keep if k in metadata}, "annotations": annotations},
        "spec": copy.deepcopy(dict(body.get("spec") or {})),
        "status": copy.deepcopy(dict(body.get("status") or {})),
    }


def ready_of(view: ObjectView) -> str:
    """The Ready condition's status, Unknown if there is none."""
    ready = conditions.find(view.status.get("conditions"), "Ready")
    return str(ready.get("status")) if ready else "Unknown"


def image_entry(body: Mapping[str, Any]) -> ImageEntry:
    """The index entry of an EnsImage."""
    view = ObjectView.from_body(body)
    ref = view.spec.get("credentialsRef")
    return ImageEntry(
        image_id=view.status.get("imageId"),
        image_status=view.status.get("imageStatus"),
        ready=ready_of(view),
        credentials_ref=ref.get("name") if isinstance(ref, Mapping) else None,
        stable=ready_of(view) == "True" and not view.deleting,
        body=slim_body(body) if should_poll(view) else None,
        shares=view.spec.get("sharedWith") is not None,
    )


def export_entry(body: Mapping[str, Any]) -> ExportEntry:
    """The index entry of an EnsImageExport."""
    view = ObjectView.from_body(body)
    ref = view.spec.get("imageRef")
    status = view.status
    running = bool(status.get("startedAt")) and status.get("exportStatus") not in ("Exported", "ExportError")
    return ExportEntry(
        image_ref=ref.get("name") if isinstance(ref, Mapping) else None,
        image_id=view.spec.get("imageId") or status.get("imageId"),
        running=running,
        ready=ready_of(view),
        body=slim_body(body) if should_poll(view) else None,
    )


def _entries(runtime: Runtime, index_id: str) -> Iterator[tuple[Any, Any]]:
    index = runtime.indexes.get(index_id)
    if index is None:
        return
    for key, store in list(index.items()):
        for value in store:
            yield key, value


def running_exports(
    exports: Iterable[tuple[Any, ExportEntry]], view: ObjectView, image_id: str | None
) -> list[str]:
    """Names of the exports of this image still Exporting (they block DeleteImage)."""
    names = []
    for (namespace, name), entry in exports:
        if not entry.running:
            continue
        same_ref = namespace == view.namespace and entry.image_ref == view.name
        if same_ref or (image_id is not None and entry.image_id == image_id):
            names.append(f"{namespace}/{name}")
    return names


def export_entries(bodies: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Any, ExportEntry]]:
    """``((namespace, name), entry)`` for each export body, as the index holds them."""
    for body in bodies:
        view = ObjectView.from_body(body)
        yield (view.namespace, view.name), export_entry(body)


async def _changed_in_ens(runtime: Runtime, entries: list[tuple[Any, ImageEntry]]) -> set[Any]:
    """Keys of the in-flight images whose ENS status differs from the one their object shows.

    Reading each scope's snapshot here also makes the cycle's one listing happen before any pass,
    so every pass of the cycle decides from the same fresh listing.
    """
    changed: set[Any] = set()
    for (namespace, name), entry in entries:
        try:
            if entry.image_id and await _differs(runtime, namespace, entry):
                changed.add((namespace, name))
        except Exception:  # noqa: S112 - the pass itself reports what went wrong
            continue
    return changed


async def _differs(
    runtime: Runtime, namespace: str, entry: ImageEntry, max_age: float | None = None, *, full: bool = False
) -> bool:
    """Whether the scope's snapshot (``full``: its full listing) shows the image other than the
    object does, or not at all."""
    assert entry.image_id is not None
    cloud = await runtime.scopes.cloud_for(namespace, entry.credentials_ref)
    if full:
        images = await cloud.snapshots.all_self_images(max_age or 0.0)
    else:
        images = await cloud.snapshots.self_images(max_age)
    image = images.get(entry.image_id)
    return image is None or image.status != entry.image_status


def _image_ids(entry: ImageEntry) -> set[str]:
    """The ids a pass of this in-flight EnsImage reads: its image's, or the one it adopts."""
    spec = (entry.body or {}).get("spec") or {}
    return {
        image_id
        for image_id in (entry.image_id, spec.get("imageId"))
        if isinstance(image_id, str) and image_id
    }


async def _want_in_flight(runtime: Runtime, entries: list[tuple[Any, ImageEntry]]) -> None:
    """Tell each scope which image ids this cycle's passes read: a refresh then fetches only those
    while that is fewer calls than the full listing (see ``poller.py``)."""
    # A scope with nothing in flight wants nothing.
    wanted: dict[int, tuple[Snapshots, set[str] | None]] = {
        id(snapshots): (snapshots, set()) for snapshots in runtime.scopes.scopes()
    }
    for (namespace, _), entry in entries:
        try:
            cloud = await runtime.scopes.cloud_for(namespace, entry.credentials_ref)
        except Exception:  # noqa: S112 - the pass itself reports what went wrong
            continue
        snapshots, ids = wanted.setdefault(id(cloud.snapshots), (cloud.snapshots, set()))
        entry_ids = _image_ids(entry)
        # An import whose id was never recorded is found again by its name: only a listing has it.
        merged = None if ids is None or not entry_ids else ids | entry_ids
        wanted[id(cloud.snapshots)] = (snapshots, merged)
    for snapshots, ids in wanted.values():
        snapshots.want(ids)


async def poll_in_flight(runtime: Runtime, run_pass: PassFn) -> int:
    """One pass for every object that needs polling, at most PASS_LIMIT at a time.

    Objects whose image changed in ENS go first: with thousands in flight, their status is
    written within moments of the listing instead of after every unchanged object's pass.
    """
    now = asyncio.get_running_loop().time()

    def due(body: Mapping[str, Any] | None) -> bool:
        # An object sitting out its backoff would return at once: leaving it out here also spares
        # the listing its snapshot read would start.
        return body is not None and not runtime.backoffs.waiting(ObjectView.from_body(body).uid, now)

    images = [(key, entry) for key, entry in _entries(runtime, IMAGE_INDEX) if due(entry.body)]
    await _want_in_flight(runtime, images)
    changed = await _changed_in_ens(runtime, images)
    images.sort(key=lambda item: item[0] not in changed)  # stable: changed first, then index order
    work: list[tuple[Kind, Mapping[str, Any]]] = [
        (ENS_IMAGE, entry.body) for _, entry in images if entry.body
    ]
    work += [
        (ENS_IMAGE_EXPORT, entry.body)
        for _, entry in _entries(runtime, EXPORT_INDEX)
        if entry.body and due(entry.body)
    ]
    queue = iter(work)

    async def worker() -> None:
        # A fixed set of workers takes the objects in order: the passes' own limit stays the only
        # semaphore, and thousands of objects in flight cost PASS_LIMIT coroutines, not thousands.
        for kind, body in queue:
            try:
                await run_pass(runtime, kind, body)
            except Exception:  # one object's failure must not stop the others
                log.exception("pass of %s failed", ObjectView.from_body(body).name)

    await asyncio.gather(*(worker() for _ in range(min(PASS_LIMIT, len(work)))))
    return len(work)


async def check_once(runtime: Runtime, run_pass: PassFn, max_age: float | None = None) -> int:
    """Compare every stable EnsImage with its scope's full listing; reconcile the ones that drifted.

    ``max_age``: how old a full listing may be and still serve (one the fast passes made will do).
    The listing runs in the background: its calls yield to those of the passes in flight, whose
    targeted refreshes go on beside it.
    """
    drifted = 0
    for (namespace, name), entry in _entries(runtime, IMAGE_INDEX):
        if not entry.stable or not entry.image_id:
            continue
        try:
            # Shares changed outside show in no listing: an image that manages them is looked at.
            if not entry.shares and not await _differs(runtime, namespace, entry, max_age, full=True):
                continue
        except Exception as error:  # one scope's trouble (credentials, ENS) must not stop the rest
            log.warning("drift check of %s/%s skipped: %s", namespace, name, type(error).__name__)
            continue
        body = await runtime.kube.get(ENS_IMAGE, namespace, name)
        if body is not None:
            drifted += 1
            await run_pass(runtime, ENS_IMAGE, body, force=True)
    return drifted


def update_gauges(runtime: Runtime) -> None:
    """Resource counts by kind and Ready status, from the indexes."""
    set_resources(ENS_IMAGE.kind, (entry.ready for _, entry in _entries(runtime, IMAGE_INDEX)))
    set_resources(ENS_IMAGE_EXPORT.kind, (entry.ready for _, entry in _entries(runtime, EXPORT_INDEX)))
    set_resources(ENS_IMAGE_CATALOG.kind, (ready for _, ready in _entries(runtime, CATALOG_INDEX)))


async def list_ahead(runtime: Runtime, max_age: float) -> None:
    """Start the full listing of every scope with a stable image indexed so far, in the background.

    At start-up the first drift check waits until kopf's listing is indexed; the ENS listings it
    compares with need not wait for that: started now, the check finds them made (or under way).
    """
    listed: set[int] = set()
    for (namespace, _), entry in _entries(runtime, IMAGE_INDEX):
        if not entry.stable or not entry.image_id:
            continue
        try:
            cloud = await runtime.scopes.cloud_for(namespace, entry.credentials_ref)
            if id(cloud.snapshots) not in listed:
                listed.add(id(cloud.snapshots))
                await cloud.snapshots.all_self_images(max_age)
        except Exception:  # noqa: S112 - the drift check itself reports what went wrong
            continue


async def drift_check(runtime: Runtime, run_pass: PassFn, max_age: float) -> None:
    """One drift check, logged; it runs beside the fast cycle, never inside it."""
    try:
        count = await check_once(runtime, run_pass, max_age=max_age)
    except Exception:
        log.exception("drift check failed")
    else:
        if count:
            log.info("drift check: %d image(s) changed in ENS", count)


async def run(runtime: Runtime, run_pass: PassFn) -> None:
    """Forever: in-flight passes every fast interval, gauges every few seconds, drift checks.

    The first drift check runs as soon as kopf's start-up listing is indexed (the index did not
    grow for a cycle), on ENS listings started when the first objects were indexed: after a restart
    or a failover every stable object is verified against ENS within seconds, not after
    slowPollInterval. Each check is a task of its own, so its listing of
    a big account never holds the cycle of the passes in flight.
    """
    loop = asyncio.get_running_loop()
    fast, slow = runtime.settings.fast_poll_interval, runtime.settings.slow_poll_interval
    next_gauges = loop.time()
    next_check, indexed = math.inf, -1
    check: asyncio.Task[None] | None = None
    ahead: asyncio.Task[None] | None = None
    try:
        while True:
            if not runtime.gate.active:
                for task in (check, ahead):
                    if task is not None:
                        task.cancel()
                await runtime.gate.wait_active()
                next_check, indexed, ahead = math.inf, -1, None  # kopf relists on resume
            started = loop.time()
            await poll_in_flight(runtime, run_pass)
            if loop.time() >= next_gauges:
                next_gauges = loop.time() + GAUGE_PERIOD
                update_gauges(runtime)
            if next_check == math.inf:
                size = len(runtime.indexes.get(IMAGE_INDEX) or ())
                next_check = loop.time() if size == indexed else math.inf
                indexed = size
                if size and ahead is None:
                    ahead = asyncio.create_task(list_ahead(runtime, slow / 2))
            if loop.time() >= next_check and (check is None or check.done()):
                next_check = loop.time() + slow
                check = asyncio.create_task(drift_check(runtime, run_pass, slow / 2))
            await asyncio.sleep(max(0.05, fast - (loop.time() - started)))
    finally:
        for task in (check, ahead):
            if task is not None:
                task.cancel()
