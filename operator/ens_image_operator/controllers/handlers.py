"""kopf glue: a few lines per handler; the decisions live in ``reconcile/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from ens_image_operator import GROUP
from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_CATALOG, ENS_IMAGE_EXPORT, Kind
from ens_image_operator.controllers import connection, scheduler
from ens_image_operator.controllers.index import ObjectIndex
from ens_image_operator.controllers.runtime import KubeHandle, Runtime, utc_now
from ens_image_operator.metrics import record_error
from ens_image_operator.reconcile.conditions import State, is_ready
from ens_image_operator.reconcile.export import ImageRefState
from ens_image_operator.reconcile.loop import Outcome, finish
from ens_image_operator.reconcile.ports import Cloud, CloudFactory, ObjectView
from ens_image_operator.settings import Settings

log = logging.getLogger(__name__)

FINALIZER = f"{GROUP}/finalizer"
RETRY_REASONS = frozenset({"Retrying", "Throttled"})


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Everything kopf writes on our objects goes under our own prefix."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # our own events say what happens; kopf's logs stay logs
    # kopf runs one worker task per object with pending events, unbounded by default: the initial
    # listing of thousands of objects would spawn thousands at once, and the memory of that burst
    # stays with the process. A bounded pool keeps the peak low. A worker keeps its slot until it
    # has been idle for idle_timeout, so that timeout bounds how fast the pool drains the listing
    # (100 slots / 0.1 s: about 1000 objects/s). The bound is safe only because no kopf index is
    # registered: kopf would hold every indexed object's worker until all objects were indexed.
    settings.queueing.worker_limit = 100
    settings.queueing.idle_timeout = 0.1
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


def _credentials_ref(view: ObjectView) -> str | None:
    ref = view.spec.get("credentialsRef")
    return str(ref["name"]) if isinstance(ref, Mapping) and ref.get("name") else None


def _cloud_factory(runtime: Runtime, view: ObjectView) -> CloudFactory:
    async def factory() -> Cloud:
        return await runtime.scopes.cloud_for(view.namespace, _credentials_ref(view))

    return factory


def _uid(body: Mapping[str, Any]) -> str:
    return ObjectView.from_body({"metadata": body.get("metadata") or {}}).uid


def _loop_now() -> float:
    return asyncio.get_running_loop().time()


def _after_pass(runtime: Runtime, kind: Kind, view: ObjectView, outcome: Outcome) -> None:
    """Schedule the next attempt: jittered backoff after a failure, the outcome's delay otherwise."""
    if outcome.verdict.reason in RETRY_REASONS:
        runtime.backoffs.failed(view.uid, _loop_now())
        record_error(kind.kind, outcome.verdict.reason)
        return
    runtime.backoffs.succeeded(view.uid)
    if outcome.requeue is None:
        # Nothing more to poll for: the next pass starts from a fresh event or a fresh read.
        runtime.written.forget(view.uid)
    if outcome.verdict.state is State.STALLED:
        record_error(kind.kind, outcome.verdict.reason)
    if outcome.requeue and outcome.requeue > runtime.settings.fast_poll_interval:
        runtime.backoffs.defer(view.uid, _loop_now() + outcome.requeue)


async def image_pass(runtime: Runtime, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One reconcile pass of an EnsImage."""
    async with runtime.lock(_uid(body)):
        body = runtime.written.current(body)  # inside the lock: a pass that just ended may have written
        view = ObjectView.from_body(body)
        if view.deleting:
            return
        if not force and runtime.backoffs.waiting(view.uid, _loop_now()):
            return
        handle = KubeHandle(runtime.kube, ENS_IMAGE, body, runtime.written)
        async with runtime.passes:
            now = utc_now()
            outcome = await runtime.images.reconcile(view, handle, _cloud_factory(runtime, view), now)
            await finish(view, handle, outcome, now)
        _after_pass(runtime, ENS_IMAGE, view, outcome)


async def export_pass(runtime: Runtime, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One reconcile pass of an EnsImageExport."""
    async with runtime.lock(_uid(body)):
        body = runtime.written.current(body)  # inside the lock: a pass that just ended may have written
        view = ObjectView.from_body(body)
        if view.deleting:
            return
        if not force and runtime.backoffs.waiting(view.uid, _loop_now()):
            return
        handle = KubeHandle(runtime.kube, ENS_IMAGE_EXPORT, body, runtime.written)
        now = utc_now()

        async def lookup(namespace: str, name: str) -> ImageRefState | None:
            image = await runtime.kube.get(ENS_IMAGE, namespace, name)
            if image is None:
                return None
            status = image.get("status") or {}
            return ImageRefState(status.get("imageId"), is_ready(status.get("conditions")))

        async with runtime.passes:
            outcome = await runtime.exports.reconcile(
                view, handle, _cloud_factory(runtime, view), lookup, now
            )
            await finish(view, handle, outcome, now)
        _after_pass(runtime, ENS_IMAGE_EXPORT, view, outcome)


async def catalog_pass(runtime: Runtime, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One pass of an EnsImageCatalog (refreshes only when due, or at once after a change)."""
    async with runtime.lock(_uid(body)):
        body = runtime.written.current(body)  # inside the lock: a pass that just ended may have written
        view = ObjectView.from_body(body)
        if view.deleting:
            return
        if not force and runtime.backoffs.waiting(view.uid, _loop_now()):
            return
        async with runtime.passes:
            now = utc_now()
            outcome = await runtime.catalogs.reconcile(view, _cloud_factory(runtime, view), now)
            if outcome is None:
                return
            handle = KubeHandle(runtime.kube, ENS_IMAGE_CATALOG, body, runtime.written)
            await finish(view, handle, outcome, now)
        _after_pass(runtime, ENS_IMAGE_CATALOG, view, outcome)


def register(registry: kopf.OperatorRegistry, settings: Settings, runtime_factory: Any) -> None:
    """Register every handler on ``registry``; intervals come from ``settings``."""
    image = (ENS_IMAGE.group, ENS_IMAGE.version, ENS_IMAGE.plural)
    export = (ENS_IMAGE_EXPORT.group, ENS_IMAGE_EXPORT.version, ENS_IMAGE_EXPORT.plural)
    catalog = (ENS_IMAGE_CATALOG.group, ENS_IMAGE_CATALOG.version, ENS_IMAGE_CATALOG.plural)
    fast = settings.fast_poll_interval

    @kopf.on.login(id="login", registry=registry)
    def login(settings: kopf.OperatorSettings, logger: Any, **_: Any) -> kopf.ConnectionInfo:
        info: kopf.ConnectionInfo = connection.login(settings, logger)
        return info

    @kopf.on.startup(id="startup", registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: Any, logger: Any, **_: Any) -> None:
        configure_kopf(settings)
        runtime: Runtime = await runtime_factory(connection.login(settings, logger))
        runtime.indexes.update({name: ObjectIndex() for name in scheduler.INDEX_IDS})
        memo.runtime = runtime
        memo.background = asyncio.create_task(
            scheduler.run(runtime, image_pass, export_pass), name="scheduler"
        )

    @kopf.on.cleanup(id="cleanup", registry=registry)
    async def cleanup(memo: Any, **_: Any) -> None:
        task = getattr(memo, "background", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime = getattr(memo, "runtime", None)
        if runtime is not None:
            await runtime.scopes.aclose()
            await runtime.kube.aclose()

    # --- indexes: small per object (a slim body only while in flight); read by the scheduler ----

    def indexer(index_id: str, entry: Any) -> Any:
        def index(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
            view = ObjectView.from_body(body)
            index = _runtime(memo).indexes[index_id]
            if type == "DELETED":
                index.remove((view.namespace, view.name), view.uid)
            else:
                index.put((view.namespace, view.name), view.uid, entry(body))

        return index

    kopf.on.event(*image, id=scheduler.IMAGE_INDEX, registry=registry)(
        indexer(scheduler.IMAGE_INDEX, scheduler.image_entry)
    )
    kopf.on.event(*export, id=scheduler.EXPORT_INDEX, registry=registry)(
        indexer(scheduler.EXPORT_INDEX, scheduler.export_entry)
    )
    kopf.on.event(*catalog, id=scheduler.CATALOG_INDEX, registry=registry)(
        indexer(scheduler.CATALOG_INDEX, lambda body: scheduler.ready_of(ObjectView.from_body(body)))
    )

    # --- EnsImage ----------------------------------------------------------------------------
    # No timers and no resume handler: objects in flight are polled by the scheduler (which also
    # picks them up after a restart), stable ones only by its drift check, so thousands of stable
    # objects cost neither a body kept in kopf's memory nor a pass at startup.

    @kopf.on.create(*image, id="reconcile", registry=registry)
    @kopf.on.update(*image, id="reconcile", registry=registry)
    async def image_changed(body: kopf.Body, memo: Any, **_: Any) -> None:
        await image_pass(_runtime(memo), body, force=True)

    @kopf.on.delete(*image, id="delete", registry=registry)
    async def image_deleted(body: kopf.Body, memo: Any, **_: Any) -> None:
        runtime = _runtime(memo)
        view = ObjectView.from_body(body)
        async with runtime.lock(view.uid):
            handle = KubeHandle(runtime.kube, ENS_IMAGE, body, runtime.written)
            now = utc_now()

            async def running_exports(view: ObjectView, image_id: str | None) -> list[str]:
                # Listed, not read from the index: at start-up the index may not hold every export yet.
                bodies = await runtime.kube.list(ENS_IMAGE_EXPORT, runtime.settings.namespaces)
                return scheduler.running_exports(scheduler.export_entries(bodies), view, image_id)

            async with runtime.passes:
                result = await runtime.images.delete(
                    view, handle, _cloud_factory(runtime, view), running_exports, now
                )
                if result.outcome is not None:
                    await finish(view, handle, result.outcome, now)
        if not result.done:
            message = result.outcome.verdict.message if result.outcome else "deletion in progress"
            raise kopf.TemporaryError(message, delay=result.retry_after or fast)
        runtime.backoffs.succeeded(view.uid)
        runtime.written.forget(view.uid)

    # --- EnsImageExport ----------------------------------------------------------------------

    @kopf.on.create(*export, id="reconcile", registry=registry)
    @kopf.on.update(*export, id="reconcile", registry=registry)
    async def export_changed(body: kopf.Body, memo: Any, **_: Any) -> None:
        await export_pass(_runtime(memo), body, force=True)

    # --- EnsImageCatalog: few objects, each with its own timer checking whether a refresh is due --

    @kopf.on.create(*catalog, id="reconcile", registry=registry)
    @kopf.on.update(*catalog, id="reconcile", registry=registry)
    async def catalog_changed(body: kopf.Body, memo: Any, **_: Any) -> None:
        await catalog_pass(_runtime(memo), body, force=True)

    @kopf.timer(*catalog, id="poll", interval=fast, registry=registry)
    async def catalog_poll(body: kopf.Body, memo: Any, **_: Any) -> None:
        await catalog_pass(_runtime(memo), body)
