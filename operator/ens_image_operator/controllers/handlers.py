"""kopf glue: a few lines per handler; the decisions live in ``reconcile/``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import httpx
import kopf

from ens_image_operator import GROUP
from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_CATALOG, ENS_IMAGE_EXPORT, Kind
from ens_image_operator.controllers import connection, ownership, scheduler
from ens_image_operator.controllers.index import ObjectIndex
from ens_image_operator.controllers.kopf_storage import MemoryDiffBaseStorage, UnmarkedProgressStorage
from ens_image_operator.controllers.kube import KubeError
from ens_image_operator.controllers.runtime import KubeHandle, Runtime, utc_now
from ens_image_operator.metrics import RECONCILE_DURATION, record_error
from ens_image_operator.reconcile.conditions import State
from ens_image_operator.reconcile.driver import Outcome
from ens_image_operator.reconcile.loop import finish
from ens_image_operator.reconcile.ports import Cloud, CloudFactory, LostWrite, ObjectView
from ens_image_operator.settings import Settings

log = logging.getLogger(__name__)

FINALIZER = f"{GROUP}/finalizer"
RETRY_REASONS = frozenset({"Retrying", "Throttled"})


def configure_kopf(settings: kopf.OperatorSettings, lifetime: int = 60) -> None:
    """Everything kopf writes on our objects goes under our own prefix."""
    settings.persistence.finalizer = FINALIZER
    # Neither writes to an object that a handler's pass handled at once (kopf_storage.py): the
    # last-handled essence stays in memory, progress is stored only for retries, with no marker.
    settings.persistence.progress_storage = UnmarkedProgressStorage(prefix=GROUP)
    if not isinstance(settings.persistence.diffbase_storage, MemoryDiffBaseStorage):
        settings.persistence.diffbase_storage = MemoryDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.WARNING  # our own events say what happens; kopf's logs stay logs
    objects_log = logging.getLogger("kopf.objects")
    if not any(isinstance(existing, _QuietIndexers) for existing in objects_log.filters):
        objects_log.addFilter(_QuietIndexers())
    # kopf runs one worker task per object with pending events, unbounded by default: the initial
    # listing of thousands of objects would spawn thousands at once, and the memory of that burst
    # stays with the process. A bounded pool keeps the peak low. A worker keeps its slot until it
    # has been idle for idle_timeout, so that timeout bounds how fast the pool drains the listing
    # (100 slots / 0.1 s: about 1000 objects/s). The bound is safe only because no kopf index is
    # registered: kopf would hold every indexed object's worker until all objects were indexed.
    settings.queueing.worker_limit = 100
    settings.queueing.idle_timeout = 0.1
    settings.peering.lifetime = lifetime
    # The initial listing a page at a time, as client-go's reflectors do, not all objects in one
    # answer held as text and decoded at once.
    settings.watching.chunk_size = 500
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330


class _QuietIndexers(logging.Filter):
    """kopf logs every handler's success; for the index handlers that is a line per watch event."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Handler '") and message.endswith("_index' succeeded."))


def _background(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task of our own next to kopf's; if it ever dies, the log says so with the cause."""

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the %s stopped", name, exc_info=task.exception())

    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(report)
    return task


Handler = Callable[..., Awaitable[None]]


def _soon_again(handler: Handler) -> Handler:
    """A handler whose Kubernetes call failed runs again after the object's backoff, not kopf's minute.

    The operator's own status writes and reads meet 409, 404, exhausted retries of 429 and 5xx, or a
    lost connection; each is worth another pass soon, and none is a bug to wait a minute for. The
    delay comes from the same backoff as every other retry; kopf only carries it.
    """

    @functools.wraps(handler)
    async def handle(*args: Any, **kwargs: Any) -> None:
        try:
            await handler(*args, **kwargs)
        except (KubeError, httpx.HTTPError) as error:
            delay = _runtime(kwargs["memo"]).backoffs.failed(_uid(kwargs["body"]), _loop_now())
            raise kopf.TemporaryError(f"Kubernetes API: {error}", delay=delay) from error

    return handle


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


def _after_pass(runtime: Runtime, kind: Kind, view: ObjectView, outcome: Outcome) -> float:
    """Schedule the next attempt (the one retry system): returns the delay until it.

    A failure backs off with jitter; any other outcome resets the backoff and defers the next pass
    by the outcome's own delay when that is longer than a scheduler cycle.
    """
    if outcome.verdict.reason in RETRY_REASONS:
        record_error(kind.kind, outcome.verdict.reason)
        return runtime.backoffs.failed(view.uid, _loop_now())
    runtime.backoffs.succeeded(view.uid)
    # What this pass wrote stays known until the watch delivers it (``WrittenStatuses.seen`` in the
    # index handlers): a pass from a body older than the write, such as the scheduler's right after
    # a handler made an adoption Ready, would write the same status and event again.
    if outcome.verdict.state is State.STALLED:
        record_error(kind.kind, outcome.verdict.reason)
    delay = outcome.requeue or runtime.settings.fast_poll_interval
    if delay > runtime.settings.fast_poll_interval:
        runtime.backoffs.defer(view.uid, _loop_now() + delay)
    return delay


async def run_pass(runtime: Runtime, kind: Kind, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One reconcile pass of a live object of any kind.

    ``force``: run even while the object sits out a backoff (a change, or a drift found in ENS).
    """
    async with runtime.lock(_uid(body)):
        if not runtime.gate.active:
            return  # another replica acts; its own passes cover this object
        if not force and runtime.written.superseded(body):
            # The scheduler took this body before the watch delivered a newer one (often the write
            # of a handler's pass that just ended): the next cycle passes the newer one if needed.
            return
        body = runtime.written.current(body)  # inside the lock: a pass that just ended may have written
        view = ObjectView.from_body(body)
        if view.deleting:
            return
        if not force and runtime.backoffs.waiting(view.uid, _loop_now()):
            return
        # A forced pass has kopf's newest body (or the drift check's fresh read); the scheduler's
        # may predate kopf's finalizer patch, so a create from it reads the object first.
        handle = KubeHandle(runtime.kube, kind, body, runtime.written, current=force)
        async with runtime.passes:
            now = utc_now()
            reconciler = runtime.reconciler(kind)
            with RECONCILE_DURATION.labels(kind=kind.kind).time():
                try:
                    outcome = await reconciler.reconcile(view, handle, _cloud_factory(runtime, view), now)
                except LostWrite as lost:
                    # Another writer came first, or the object is gone: nothing of this pass holds,
                    # and the next one starts from what is stored.
                    log.info("pass of %s/%s ended: %s", view.namespace, view.name, lost)
                    runtime.written.forget(view.uid)
                    return
                if outcome is None:
                    return  # nothing due (a catalogue between refreshes)
                await finish(view, handle, outcome, now)
        _after_pass(runtime, kind, view, outcome)


async def delete_pass(runtime: Runtime, kind: Kind, body: Mapping[str, Any]) -> None:
    """One pass of deleting an object; returns once the finalizer may go, else kopf calls again."""
    fast = runtime.settings.fast_poll_interval
    if not runtime.gate.active:
        raise kopf.TemporaryError("another replica is active", delay=fast)
    async with runtime.lock(_uid(body)):
        # kopf's body may predate what the last pass wrote (an intent, a fresh imageId).
        body = runtime.written.current(body)
        view = ObjectView.from_body(body)
        handle = KubeHandle(runtime.kube, kind, body, runtime.written)
        async with runtime.passes:
            now = utc_now()
            deletion = await runtime.reconciler(kind).delete(view, handle, _cloud_factory(runtime, view), now)
            if deletion.outcome is not None:
                await finish(view, handle, deletion.outcome, now)
    if not deletion.done:
        outcome = deletion.outcome
        delay = _after_pass(runtime, kind, view, outcome) if outcome is not None else fast
        message = outcome.verdict.message if outcome is not None else "deletion in progress"
        raise kopf.TemporaryError(message, delay=deletion.retry_after or delay)
    runtime.backoffs.succeeded(view.uid)
    runtime.written.forget(view.uid)


def _resource(kind: Kind) -> tuple[str, str, str]:
    return kind.group, kind.version, kind.plural


def register(registry: kopf.OperatorRegistry, settings: Settings, runtime_factory: Any) -> None:
    """Register every handler on ``registry``; intervals come from ``settings``."""
    _register_lifecycle(registry, settings, runtime_factory)
    _register_indexes(registry)
    _register_passes(registry, settings.fast_poll_interval)


def _register_lifecycle(registry: kopf.OperatorRegistry, settings: Settings, runtime_factory: Any) -> None:
    """Login, start-up (the runtime, the claims, the background tasks) and cleanup."""
    lifetime = settings.peering_lifetime

    @kopf.on.login(id="login", registry=registry)
    def login(settings: kopf.OperatorSettings, logger: Any, **_: Any) -> kopf.ConnectionInfo:
        info: kopf.ConnectionInfo = connection.login(settings, logger)
        return info

    @kopf.on.startup(id="startup", registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: Any, logger: Any, **_: Any) -> None:
        configure_kopf(settings, lifetime=lifetime)
        runtime: Runtime = await runtime_factory(connection.login(settings, logger))
        handled = settings.persistence.diffbase_storage
        runtime.handled = handled if isinstance(handled, MemoryDiffBaseStorage) else None
        runtime.indexes.update({name: ObjectIndex() for name in scheduler.INDEX_IDS})
        # Ownership is decided from every claim, and kopf's listing reaches the handlers object by
        # object: one listing of our own first, so no early pass sees a partial picture.
        async for page in runtime.kube.pages(ENS_IMAGE, runtime.settings.namespaces):
            for item in page:
                runtime.claims.put(ownership.claim_of(item))
        memo.runtime = runtime
        memo.background = _background(scheduler.run(runtime, run_pass), "scheduler")
        memo.peering = _background(runtime.gate.run(runtime.forget_cache), "peering gate")

    @kopf.on.cleanup(id="cleanup", registry=registry)
    async def cleanup(memo: Any, **_: Any) -> None:
        for task in (getattr(memo, "background", None), getattr(memo, "peering", None)):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        runtime = getattr(memo, "runtime", None)
        if runtime is not None:
            await runtime.scopes.aclose()
            await runtime.kube.aclose()


def _register_indexes(registry: kopf.OperatorRegistry) -> None:
    """The scheduler's indexes: small per object (a slim body only while in flight), and the claims."""

    # Coroutines, though they never wait: kopf runs a plain function in its thread pool, a hop
    # through an executor per watch event (and the indexes written from another thread).
    def indexer(index_id: str, entry: Any) -> Any:
        async def index(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
            view = ObjectView.from_body(body)
            runtime = _runtime(memo)
            index = runtime.indexes[index_id]
            if type == "DELETED":
                index.remove((view.namespace, view.name), view.uid)
                runtime.written.gone(view.uid)
                if runtime.handled is not None:
                    runtime.handled.forget(view.uid)
            else:
                index.put((view.namespace, view.name), view.uid, entry(body))
                runtime.written.seen(body)

        return index

    @kopf.on.event(*_resource(ENS_IMAGE), id=scheduler.IMAGE_INDEX, registry=registry)
    async def image_index(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
        await indexer(scheduler.IMAGE_INDEX, scheduler.image_entry)(type=type, body=body, memo=memo)
        claims = _runtime(memo).claims
        if type == "DELETED":
            view = ObjectView.from_body(body)
            claims.remove((view.namespace, view.name), view.uid)
        else:
            claims.put(ownership.claim_of(body))

    kopf.on.event(*_resource(ENS_IMAGE_EXPORT), id=scheduler.EXPORT_INDEX, registry=registry)(
        indexer(scheduler.EXPORT_INDEX, scheduler.export_entry)
    )
    kopf.on.event(*_resource(ENS_IMAGE_CATALOG), id=scheduler.CATALOG_INDEX, registry=registry)(
        indexer(scheduler.CATALOG_INDEX, lambda body: scheduler.ready_of(ObjectView.from_body(body)))
    )


def _register_passes(registry: kopf.OperatorRegistry, fast: float) -> None:
    """A pass on every change of every kind, the EnsImage deletion, the catalogues' timers.

    EnsImages and exports have no timers and no resume handler: objects in flight are polled by the
    scheduler (which also picks them up after a restart), stable ones only by its drift check, so
    thousands of stable objects cost neither a body kept in kopf's memory nor a pass at startup.
    """

    def on_change(kind: Kind) -> None:
        @kopf.on.create(*_resource(kind), id="reconcile", registry=registry)
        @kopf.on.update(*_resource(kind), id="reconcile", registry=registry)
        @_soon_again
        async def changed(body: kopf.Body, memo: Any, **_: Any) -> None:
            await run_pass(_runtime(memo), kind, body, force=True)

    for kind in (ENS_IMAGE, ENS_IMAGE_EXPORT, ENS_IMAGE_CATALOG):
        on_change(kind)

    @kopf.on.delete(*_resource(ENS_IMAGE), id="delete", registry=registry)
    @_soon_again
    async def image_deleted(body: kopf.Body, memo: Any, **_: Any) -> None:
        await delete_pass(_runtime(memo), ENS_IMAGE, body)

    # Few catalogues, each with its own timer checking whether a refresh is due.
    @kopf.timer(*_resource(ENS_IMAGE_CATALOG), id="poll", interval=fast, registry=registry)
    @_soon_again
    async def catalog_poll(body: kopf.Body, memo: Any, **_: Any) -> None:
        await run_pass(_runtime(memo), ENS_IMAGE_CATALOG, body)
