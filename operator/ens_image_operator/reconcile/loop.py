"""The generic part of every reconcile pass: verdict → conditions → status patch, events, requeue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ens_image_operator.api.common import READY, RECONCILING, STALLED
from ens_image_operator.reconcile import conditions
from ens_image_operator.reconcile.conditions import State, Verdict
from ens_image_operator.reconcile.failures import RECHECKED_STALL_REASONS
from ens_image_operator.reconcile.ports import EventType, ObjectHandle, ObjectView

PAUSED_ANNOTATION = "ens.image-operator.io/paused"


@dataclass
class Outcome:
    """What one pass decided: the verdict, status fields to set (None removes), when to look again."""

    verdict: Verdict
    status: dict[str, Any] = field(default_factory=dict)
    requeue: float | None = None  # seconds; None: nothing to poll for (stable or terminally stalled)


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
    if view.generation is not None:
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
    if _changes(view.status, patch):
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
