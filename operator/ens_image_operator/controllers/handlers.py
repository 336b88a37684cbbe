"""kopf glue: a few lines per handler; the decisions live in ``reconcile/``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

import httpx
import kopf

from ens_image_operator import GROUP
from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_CATALOG, ENS_IMAGE_EXPORT, Kind
from ens_image_operator.controllers import connection, ownership, scheduler
from ens_image_operator.controllers.index import ObjectIndex
from ens_image_operator.controllers.kube import KubeError
from ens_image_operator.controllers.runtime import KubeHandle, Runtime, utc_now
from ens_image_operator.credentials_scope import OPERATOR_SCOPE
from ens_image_operator.metrics import record_error
from ens_image_operator.reconcile.conditions import State, Verdict, is_ready
from ens_image_operator.reconcile.export import ImageRefState
from ens_image_operator.reconcile.failures import CredentialsProblem
from ens_image_operator.reconcile.image import DeleteResult
from ens_image_operator.reconcile.loop import Outcome, finish, is_paused
from ens_image_operator.reconcile.ports import Cloud, CloudFactory, LostWrite, ObjectView
from ens_image_operator.settings import Settings

log = logging.getLogger(__name__)

FINALIZER = f"{GROUP}/finalizer"
RETRY_REASONS = frozenset({"Retrying", "Throttled"})


def configure_kopf(settings: kopf.OperatorSettings, lifetime: int = 60) -> None:
    """Everything kopf writes on our objects goes under our own prefix."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
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


def _soon_again(delay: float) -> Callable[[Handler], Handler]:
    """A handler whose Kubernetes call failed runs again after ``delay``, not kopf's default minute.

    The operator's own status writes and reads meet 409, 404, exhausted retries of 429 and 5xx, or a
    lost connection; each is worth another pass soon, and none is a bug to wait a minute for.
    """

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def handle(*args: Any, **kwargs: Any) -> None:
            try:
                await handler(*args, **kwargs)
            except (KubeError, httpx.HTTPError) as error:
                raise kopf.TemporaryError(f"Kubernetes API: {error}", delay=delay) from error

        return handle

    return wrap


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


async def _ownership_conflict(runtime: Runtime, body: Mapping[str, Any]) -> Verdict | None:
    """Stalled when another EnsImage already manages this image or uses this name in the account."""
    claim = ownership.claim_of(body)

    async def scope_of(other: ownership.Claim) -> str:
        try:
            return await runtime.scopes.scope_key(other.namespace, other.credentials_ref)
        except CredentialsProblem:
            return f"unresolved {other.namespace}/{other.credentials_ref}"  # the pass reports it

    async def refresh(other: ownership.Claim) -> ownership.Claim | None:
        fresh = await runtime.kube.get(ENS_IMAGE, other.namespace, other.name)
        return ownership.claim_of(fresh) if fresh is not None else None

    return await ownership.conflict(
        claim,
        runtime.claims,
        scope_of,
        refresh,
        operator_scope=OPERATOR_SCOPE,
        adoption_namespaces=runtime.settings.adoption_namespaces,
    )


async def _other_claimant(runtime: Runtime, body: Mapping[str, Any]) -> ownership.Claim | None:
    """Another live EnsImage claiming the image id this one does, confirmed by a fresh read."""
    claim = ownership.claim_of(body)
    if not claim.image_id:
        return None
    for other in runtime.claims.sharing_id(claim):
        fresh = await runtime.kube.get(ENS_IMAGE, other.namespace, other.name)
        if fresh is not None and ownership.claim_of(fresh).image_id == claim.image_id:
            return other
    return None


Decide = Callable[[Mapping[str, Any], ObjectView, KubeHandle, datetime], Awaitable[Outcome | None]]


async def _pass(
    runtime: Runtime, kind: Kind, body: Mapping[str, Any], decide: Decide, *, force: bool
) -> None:
    """One reconcile pass of any kind: every step the kinds share, around the kind's own decision."""
    async with runtime.lock(_uid(body)):
        if not runtime.gate.active:
            return  # another replica acts; its own passes cover this object
        body = runtime.written.current(body)  # inside the lock: a pass that just ended may have written
        view = ObjectView.from_body(body)
        if view.deleting:
            return
        if not force and runtime.backoffs.waiting(view.uid, _loop_now()):
            return
        handle = KubeHandle(runtime.kube, kind, body, runtime.written)
        async with runtime.passes:
            now = utc_now()
            try:
                outcome = await decide(body, view, handle, now)
            except LostWrite as lost:
                # Another writer came first, or the object is gone: nothing of this pass holds, and
                # the next one starts from what is stored.
                log.info("pass of %s/%s ended: %s", view.namespace, view.name, lost)
                runtime.written.forget(view.uid)
                return
            if outcome is None:
                return  # nothing due (a catalogue between refreshes)
            await finish(view, handle, outcome, now)
        _after_pass(runtime, kind, view, outcome)


async def image_pass(runtime: Runtime, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One reconcile pass of an EnsImage: ownership first, then the import/adopt decision."""

    async def decide(body: Mapping[str, Any], view: ObjectView, handle: KubeHandle, now: datetime) -> Outcome:
        verdict = None if is_paused(view) else await _ownership_conflict(runtime, body)
        if verdict is not None:
            return Outcome(verdict, requeue=runtime.images.intervals.credentials_recheck)
        return await runtime.images.reconcile(view, handle, _cloud_factory(runtime, view), now)

    await _pass(runtime, ENS_IMAGE, body, decide, force=force)


async def export_pass(runtime: Runtime, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One reconcile pass of an EnsImageExport."""

    async def lookup(namespace: str, name: str) -> ImageRefState | None:
        image = await runtime.kube.get(ENS_IMAGE, namespace, name)
        if image is None:
            return None
        status = image.get("status") or {}
        return ImageRefState(status.get("imageId"), is_ready(status.get("conditions")))

    async def decide(body: Mapping[str, Any], view: ObjectView, handle: KubeHandle, now: datetime) -> Outcome:
        return await runtime.exports.reconcile(view, handle, _cloud_factory(runtime, view), lookup, now)

    await _pass(runtime, ENS_IMAGE_EXPORT, body, decide, force=force)


async def catalog_pass(runtime: Runtime, body: Mapping[str, Any], *, force: bool = False) -> None:
    """One pass of an EnsImageCatalog (refreshes only when due, or at once after a change)."""

    async def decide(
        body: Mapping[str, Any], view: ObjectView, handle: KubeHandle, now: datetime
    ) -> Outcome | None:
        return await runtime.catalogs.reconcile(view, _cloud_factory(runtime, view), now)

    await _pass(runtime, ENS_IMAGE_CATALOG, body, decide, force=force)


def register(registry: kopf.OperatorRegistry, settings: Settings, runtime_factory: Any) -> None:
    """Register every handler on ``registry``; intervals come from ``settings``."""
    operator_settings = settings
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
        configure_kopf(settings, lifetime=operator_settings.peering_lifetime)
        runtime: Runtime = await runtime_factory(connection.login(settings, logger))
        runtime.indexes.update({name: ObjectIndex() for name in scheduler.INDEX_IDS})
        # Ownership is decided from every claim, and kopf's listing reaches the handlers object by
        # object: one listing of our own first, so no early pass sees a partial picture.
        async for page in runtime.kube.pages(ENS_IMAGE, runtime.settings.namespaces):
            for item in page:
                runtime.claims.put(ownership.claim_of(item))
        memo.runtime = runtime
        memo.background = _background(scheduler.run(runtime, image_pass, export_pass), "scheduler")
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

    @kopf.on.event(*image, id=scheduler.IMAGE_INDEX, registry=registry)
    def image_index(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
        indexer(scheduler.IMAGE_INDEX, scheduler.image_entry)(type=type, body=body, memo=memo)
        claims = _runtime(memo).claims
        if type == "DELETED":
            view = ObjectView.from_body(body)
            claims.remove((view.namespace, view.name), view.uid)
        else:
            claims.put(ownership.claim_of(body))

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
    @_soon_again(fast)
    async def image_changed(body: kopf.Body, memo: Any, **_: Any) -> None:
        await image_pass(_runtime(memo), body, force=True)

    @kopf.on.delete(*image, id="delete", registry=registry)
    @_soon_again(fast)
    async def image_deleted(body: kopf.Body, memo: Any, **_: Any) -> None:
        runtime = _runtime(memo)
        if not runtime.gate.active:
            raise kopf.TemporaryError("another replica is active", delay=fast)
        view = ObjectView.from_body(body)
        async with runtime.lock(view.uid):
            # kopf's body may predate what the last pass wrote (an intent, a fresh imageId).
            latest = runtime.written.current(body)
            view = ObjectView.from_body(latest)
            handle = KubeHandle(runtime.kube, ENS_IMAGE, latest, runtime.written)
            now = utc_now()

            async def running_exports(view: ObjectView, image_id: str | None) -> list[str]:
                # Listed, not read from the index: at start-up the index may not hold every export yet.
                bodies = await runtime.kube.list(ENS_IMAGE_EXPORT, runtime.settings.namespaces)
                return scheduler.running_exports(scheduler.export_entries(bodies), view, image_id)

            async with runtime.passes:
                other = await _other_claimant(runtime, latest)
                if other is not None:
                    # Someone else still claims this image: deleting it would pull it from under them.
                    message = (
                        f"image {other.image_id} is also claimed by EnsImage {other.namespace}/{other.name}"
                    )
                    handle.event("Normal", "Retained", f"{message}: the ENS image is kept")
                    result = DeleteResult(done=True)
                else:
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
    @_soon_again(fast)
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
