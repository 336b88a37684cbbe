"""One background task for every stable object: drift checks and resource gauges.

Stable objects carry no kopf timer (a timer is an asyncio task per object). Instead kopf indexes
keep a few fields per object, and this task compares them with the shared snapshots every
slow_poll_interval; only objects whose image changed are reconciled again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, NamedTuple

from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_CATALOG, ENS_IMAGE_EXPORT
from ens_image_operator.controllers.runtime import Runtime
from ens_image_operator.metrics import set_resources
from ens_image_operator.reconcile import conditions
from ens_image_operator.reconcile.ports import ObjectView

log = logging.getLogger(__name__)

IMAGE_INDEX = "ensimage_index"
EXPORT_INDEX = "ensimageexport_index"
CATALOG_INDEX = "ensimagecatalog_index"
INDEX_IDS = (IMAGE_INDEX, EXPORT_INDEX, CATALOG_INDEX)
GAUGE_PERIOD = 15.0


class ImageEntry(NamedTuple):
    """What the drift check needs to know about one EnsImage."""

    image_id: str | None
    image_status: str | None
    ready: str
    credentials_ref: str | None
    stable: bool


class ExportEntry(NamedTuple):
    """What deletion of an EnsImage needs to know about one export."""

    image_ref: str | None
    image_id: str | None
    running: bool
    ready: str


def ready_of(view: ObjectView) -> str:
    """The Ready condition's status, Unknown if there is none."""
    ready = conditions.find(view.status.get("conditions"), "Ready")
    return str(ready.get("status")) if ready else "Unknown"


def image_entry(view: ObjectView) -> ImageEntry:
    ref = view.spec.get("credentialsRef")
    return ImageEntry(
        image_id=view.status.get("imageId"),
        image_status=view.status.get("imageStatus"),
        ready=ready_of(view),
        credentials_ref=ref.get("name") if isinstance(ref, Mapping) else None,
        stable=ready_of(view) == "True" and not view.deleting,
    )


def export_entry(view: ObjectView) -> ExportEntry:
    ref = view.spec.get("imageRef")
    status = view.status
    running = bool(status.get("startedAt")) and status.get("exportStatus") not in ("Exported", "ExportError")
    return ExportEntry(
        image_ref=ref.get("name") if isinstance(ref, Mapping) else None,
        image_id=view.spec.get("imageId") or status.get("imageId"),
        running=running,
        ready=ready_of(view),
    )


def _entries(runtime: Runtime, index_id: str) -> Iterator[tuple[Any, Any]]:
    index = runtime.indexes.get(index_id)
    if index is None:
        return
    for key, store in list(index.items()):
        for value in store:
            yield key, value


def running_exports(runtime: Runtime, view: ObjectView, image_id: str | None) -> list[str]:
    """Names of the exports of this image still Exporting (they block DeleteImage)."""
    names = []
    for (namespace, name), entry in _entries(runtime, EXPORT_INDEX):
        if not entry.running:
            continue
        same_ref = namespace == view.namespace and entry.image_ref == view.name
        if same_ref or (image_id is not None and entry.image_id == image_id):
            names.append(f"{namespace}/{name}")
    return names


async def check_once(runtime: Runtime, image_pass: Callable[..., Awaitable[None]]) -> int:
    """Compare every stable EnsImage with its scope's snapshot; reconcile the ones that drifted."""
    drifted = 0
    for (namespace, name), entry in _entries(runtime, IMAGE_INDEX):
        if not entry.stable or not entry.image_id:
            continue
        try:
            cloud = await runtime.scopes.cloud_for(namespace, entry.credentials_ref)
            image = (await cloud.snapshots.self_images()).get(entry.image_id)
        except Exception as error:  # one scope's trouble (credentials, ENS) must not stop the rest
            log.warning("drift check of %s/%s skipped: %s", namespace, name, type(error).__name__)
            continue
        if image is not None and image.status == entry.image_status:
            continue
        body = await runtime.kube.get(ENS_IMAGE, namespace, name)
        if body is not None:
            drifted += 1
            await image_pass(runtime, body, force=True)
    return drifted


def update_gauges(runtime: Runtime) -> None:
    """Resource counts by kind and Ready status, from the indexes."""
    set_resources(ENS_IMAGE.kind, (entry.ready for _, entry in _entries(runtime, IMAGE_INDEX)))
    set_resources(ENS_IMAGE_EXPORT.kind, (entry.ready for _, entry in _entries(runtime, EXPORT_INDEX)))
    set_resources(ENS_IMAGE_CATALOG.kind, (ready for _, ready in _entries(runtime, CATALOG_INDEX)))


async def run(runtime: Runtime, image_pass: Callable[..., Awaitable[None]]) -> None:
    """Forever: gauges every few seconds, drift checks every slow_poll_interval."""
    loop = asyncio.get_running_loop()
    next_check = loop.time() + runtime.settings.slow_poll_interval
    while True:
        await asyncio.sleep(min(GAUGE_PERIOD, runtime.settings.slow_poll_interval))
        update_gauges(runtime)
        if loop.time() >= next_check:
            next_check = loop.time() + runtime.settings.slow_poll_interval
            try:
                count = await check_once(runtime, image_pass)
            except Exception:
                log.exception("drift check failed")
                continue
            if count:
                log.info("drift check: %d image(s) changed in ENS", count)
