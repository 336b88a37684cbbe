"""The one reconcile loop: everything the kinds share, around each driver's observe/create/delete.

A pass: pause, ownership, spec validation, the stalled gate, the driver's own checks, observe, then
an update when a mutable field differs, or (when nothing exists) the crash-safe create: re-read,
persist the intent, call, record the id.
Errors become verdicts in one place; status is written through the typed status models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Generic, cast

from pydantic import ValidationError

from ens_image_operator.api.common import READY, RECONCILING, STALLED, ApiModel
from ens_image_operator.ens.errors import EnsError
from ens_image_operator.reconcile import conditions
from ens_image_operator.reconcile.conditions import State, Verdict, stalled_at
from ens_image_operator.reconcile.driver import (
    Cluster,
    Deletion,
    Driver,
    NoCluster,
    Observation,
    Outcome,
    Pass,
    SpecT,
    StatusT,
    intent_of,
)
from ens_image_operator.reconcile.failures import RECHECKED_STALL_REASONS, CredentialsProblem, verdict_for
from ens_image_operator.reconcile.ports import CloudFactory, EventType, ObjectHandle, ObjectView

PAUSED_ANNOTATION = "ens.image-operator.io/paused"


def is_paused(view: ObjectView) -> bool:
    """Whether the user paused the object (``ens.image-operator.io/paused: "true"``)."""
    return view.annotations.get(PAUSED_ANNOTATION, "").strip().lower() == "true"


def paused_outcome() -> Outcome:
    """No cloud calls while paused; the conditions say so."""
    return Outcome(Verdict(State.PAUSED, "Paused", f"paused by the annotation {PAUSED_ANNOTATION}"))


def previous_verdict(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """(state, reason) as last written, read back from the conditions."""
    conds = status.get("conditions")
    for kind, state in ((STALLED, State.STALLED), (READY, State.READY), (RECONCILING, State.PROGRESSING)):
        condition = conditions.find(conds, kind)
        if condition is not None and condition.get("status") == "True":
            return state.value, str(condition.get("reason", ""))
    reconciling = conditions.find(conds, RECONCILING)
    if reconciling is not None and reconciling.get("reason") == "Paused":
        return State.PAUSED.value, "Paused"
    return None


def status_patch(view: ObjectView, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The full status patch of a pass: the outcome's fields, conditions, observedGeneration."""
    patch: dict[str, Any] = dict(outcome.status)
    patch["conditions"] = conditions.build(
        outcome.verdict, view.status.get("conditions"), generation=view.generation, now=now
    )
    # A paused pass acts on nothing: the generation it saw is not observed (kstatus, Argo CD and
    # kubectl wait would otherwise take the old state as the answer to a new spec).
    if view.generation is not None and outcome.verdict.state is not State.PAUSED:
        patch["observedGeneration"] = view.generation
    return patch


def _changes(current: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    for key, value in patch.items():
        if value is None:
            if key in current:
                return True
        elif current.get(key) != value:
            return True
    return False


def event_type(state: State) -> EventType:
    """Warnings for stalls, normal events for everything else."""
    return "Warning" if state is State.STALLED else "Normal"


async def finish(view: ObjectView, handle: ObjectHandle, outcome: Outcome, now: datetime) -> float | None:
    """Write the outcome to the object (only if something changed), post an event on a transition."""
    patch = status_patch(view, outcome, now)
    if not outcome.stored and _changes(view.status, patch):
        await handle.patch_status(patch)
    before = previous_verdict(view.status)
    after = (outcome.verdict.state.value, outcome.verdict.reason)
    if before != after:
        handle.event(
            event_type(outcome.verdict.state), outcome.verdict.reason, outcome.verdict.message or after[1]
        )
    return outcome.requeue


def should_poll(view: ObjectView) -> bool:
    """Whether the object needs a fast timer: work in flight, a stall worth re-checking, or paused.

    Paused objects keep a timer that makes no calls: kopf leaves annotations under its storage prefix
    (ours) out of the change detection, so only a timer notices that the pause was lifted.
    """
    if view.deleting:
        return False
    if is_paused(view):
        return True
    status = view.status
    if view.generation is not None and status.get("observedGeneration") != view.generation:
        return True
    if not status.get("conditions"):
        return True
    reason = conditions.stalled_at(status.get("conditions"), view.generation)
    if reason is not None:
        return reason in RECHECKED_STALL_REASONS
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Reconciling":
            # Still marked Paused but no longer paused: the pause was just lifted.
            return bool(condition.get("status") == "True" or condition.get("reason") == "Paused")
    return False


def spec_error(error: ValidationError) -> str:
    """One message format for every kind: the field at fault, then what is wrong with it."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg')}" if where else f"spec: {first.get('msg')}"


def _unchanged_stall(view: ObjectView) -> Verdict:
    stalled = conditions.find(view.status.get("conditions"), STALLED)
    if stalled is None:
        return Verdict(State.STALLED, "Stalled")
    return Verdict(State.STALLED, str(stalled.get("reason")), str(stalled.get("message", "")))


def _with_learnt(outcome: Outcome, learnt: ApiModel) -> Outcome:
    """The outcome, its record completed with what the pass learnt (the outcome's fields win)."""
    if not learnt.model_fields_set:
        return outcome
    record = learnt.model_copy()
    if outcome.record is not None:
        for name in outcome.record.model_fields_set:
            setattr(record, name, getattr(outcome.record, name))
    return replace(outcome, record=record)


class Reconciler(Generic[SpecT, StatusT]):
    """One kind's reconcile passes: the shared steps here, the kind's own in its driver."""

    def __init__(self, driver: Driver[SpecT, StatusT], cluster: Cluster | None = None) -> None:
        self.driver = driver
        self.intervals = driver.intervals
        self.cluster = cluster or NoCluster()

    # --- live objects ------------------------------------------------------------------------

    async def reconcile(
        self, view: ObjectView, handle: ObjectHandle, cloud_factory: CloudFactory, now: datetime
    ) -> Outcome | None:
        """One pass for a live object; None when nothing is due and nothing needs writing."""
        cluster = self.cluster
        if is_paused(view):
            return paused_outcome()
        if self.driver.claims:
            conflict = await cluster.ownership_conflict(view)
            if conflict is not None:
                return Outcome(conflict, requeue=self.intervals.credentials_recheck)
        p = self._start(view, view.status, now, cluster, cloud_factory)
        if isinstance(p, Verdict):
            return Outcome(p)
        stalled = stalled_at(view.status.get("conditions"), view.generation)
        if stalled is not None and stalled not in RECHECKED_STALL_REASONS:
            return Outcome(_unchanged_stall(view))
        verdict = self.driver.check(p)
        if verdict is not None:
            return Outcome(verdict)
        doing = self.driver.observing
        try:
            observation = await self._observe(p, handle)
            if observation.exists and not observation.up_to_date and observation.outcome is not None:
                doing = self.driver.updating
                return await self.driver.update(p, observation.outcome)
            if observation.exists:
                return observation.outcome
            # Nothing exists: before creating, make sure no other pass recorded an intent since
            # this object was read; if one did, look again from what is stored. (The claim is
            # conditional on the version this status is from, so a handle may answer from the
            # object as delivered: a stale one fails the claim, and nothing is created.)
            stored = await handle.fresh_status(before_claim=True)
            fresh = cast(StatusT, self.driver.status_model.model_validate(stored))
            fields = self.driver.intent_fields
            if intent_of(fresh, fields) != intent_of(p.status, fields):
                p = replace(p, status=fresh)
                observation = await self._observe(p, handle)
                if observation.exists:
                    return observation.outcome
            await p.cloud()  # credentials before the intent: a broken Secret must leave none behind
            doing = self.driver.creating
            return await self._create(p, handle, observation.target)
        except CredentialsProblem as problem:
            verdict = verdict_for(problem, doing="loading credentials")
            return Outcome(verdict, requeue=self.intervals.credentials_recheck)
        except EnsError as error:
            return self._failed(error, doing, p.source)

    async def _observe(self, p: Pass[SpecT, StatusT], handle: ObjectHandle) -> Observation:
        observation = await self.driver.observe(p)
        if observation.found is not None:
            await handle.patch_status(observation.found.to_patch())
        if observation.event is not None:
            event = observation.event
            handle.event(event.type, event.reason, event.message)
        return observation

    async def _create(self, p: Pass[SpecT, StatusT], handle: ObjectHandle, target: str | None) -> Outcome:
        """The crash-safe create: the intent is stored before the call, the id right after it.

        The intent write is conditional on the object as last read: if anyone wrote since (or
        deleted the object) it raises LostWrite and the pass ends without calling the cloud. If
        the process dies during the call, the next pass finds the intent and looks for the result
        instead of creating a second one. The write right after the call carries the id and the
        pass's whole outcome (conditions, observedGeneration): one write, not two, and the id is
        no later for it.
        """
        intent = self.driver.intent(p, target)
        await handle.claim_status(intent.record.to_patch())
        try:
            created = await self.driver.create(p, target)
        except EnsError as error:
            if self.driver.created_nothing(error):
                # Refused before anything was created: the next attempt may create afresh. Any
                # other failure may hide a success, so the intent stays for recovery.
                await handle.patch_status(intent.undo.to_patch())
            raise
        outcome = created.outcome
        await handle.patch_status({**status_patch(p.view, outcome, p.now), **created.record.to_patch()})
        return replace(outcome, stored=True)

    # --- deletion ----------------------------------------------------------------------------

    async def delete(
        self, view: ObjectView, handle: ObjectHandle, cloud_factory: CloudFactory, now: datetime
    ) -> Deletion:
        """One pass of deleting an object; ``done`` means the finalizer may be removed."""
        cluster = self.cluster
        if self.driver.claims:
            other = await cluster.other_claimant(view)
            if other is not None:
                # Someone else still claims this image: deleting it would pull it from under them.
                handle.event("Normal", "Retained", f"{other}: the ENS image is kept")
                return Deletion(done=True)
        try:
            spec = self.driver.spec_model.model_validate(view.spec)
        except ValidationError:
            return Deletion(done=True)  # never managed anything: nothing to clean up
        policy = self.driver.deletion_policy(cast(SpecT, spec))
        if policy is None:
            return Deletion(done=True)
        if policy == "Retain":
            handle.event("Normal", "Retained", "deletionPolicy is Retain: the ENS image is kept")
            return Deletion(done=True)
        recheck = self.intervals.credentials_recheck
        if is_paused(view):
            return Deletion(False, paused_outcome(), recheck)
        # The delivered body may predate what the last pass wrote (an intent, a fresh id): the
        # decision is made from the status as stored now.
        stored = (await handle.fresh_status()) or view.status
        p = self._start(view, stored, now, cluster, cloud_factory)
        assert not isinstance(p, Verdict)  # the spec was validated above
        try:
            deletion = await self.driver.delete(p)
        except CredentialsProblem as problem:
            return Deletion(False, Outcome(verdict_for(problem, doing="loading credentials")), recheck)
        except EnsError as error:
            outcome = _with_learnt(self._failed(error, self.driver.deleting, p.source), p.learnt)
            # A retried failure waits out the caller's backoff; a stall is looked at again later.
            retried = outcome.verdict.state is State.PROGRESSING
            return Deletion(False, outcome, None if retried else outcome.requeue or recheck)
        if deletion.event is not None:
            handle.event(deletion.event.type, deletion.event.reason, deletion.event.message)
        if deletion.outcome is not None:
            deletion = replace(deletion, outcome=_with_learnt(deletion.outcome, p.learnt))
        return deletion

    # --- shared ------------------------------------------------------------------------------

    def _start(
        self,
        view: ObjectView,
        status: Mapping[str, Any],
        now: datetime,
        cluster: Cluster,
        cloud_factory: CloudFactory,
    ) -> Pass[SpecT, StatusT] | Verdict:
        """The pass over a valid spec, or the InvalidSpec verdict naming the field at fault."""
        try:
            spec = self.driver.spec_model.model_validate(view.spec)
        except ValidationError as error:
            return Verdict(State.STALLED, "InvalidSpec", spec_error(error))
        model = self.driver.status_model
        return Pass(
            view=view,
            spec=cast(SpecT, spec),
            status=cast(StatusT, model.model_validate(status)),
            now=now,
            cluster=cluster,
            cloud_factory=cloud_factory,
            learnt=cast(StatusT, model()),
        )

    def _failed(self, error: EnsError, doing: str, source: str) -> Outcome:
        """Stalled when retrying cannot help (re-checked if not the spec's fault), else retried soon."""
        verdict = verdict_for(error, doing=doing, source=source)
        if verdict.state is State.STALLED:
            recheck = verdict.reason in RECHECKED_STALL_REASONS
            return Outcome(verdict, requeue=self.intervals.credentials_recheck if recheck else None)
        return Outcome(verdict, requeue=self.intervals.fast)
