"""kstatus conditions: one verdict about an object becomes its Ready, Reconciling and Stalled conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ens_image_operator.api.common import READY, RECONCILING, STALLED


class State(Enum):
    """Where an object stands, in kstatus terms."""

    READY = "Ready"  # the desired state is reached
    PROGRESSING = "Progressing"  # work is under way (or will be retried): Reconciling=True
    STALLED = "Stalled"  # the operator cannot make progress until something changes
    PAUSED = "Paused"  # the user asked for no cloud calls


@dataclass(frozen=True)
class Verdict:
    """The outcome of one reconcile pass, as the user will read it in the conditions."""

    state: State
    reason: str
    message: str = ""


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format: UTC, seconds, a trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """Parse an RFC 3339 (or ENS-style) timestamp; None when absent or unreadable."""
    if not text:
        return None
    cleaned = text.strip().replace(" ", "T")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(verdict: Verdict, previous_ready: str | None) -> dict[str, str]:
    if verdict.state is State.READY:
        return {READY: "True", RECONCILING: "False", STALLED: "False"}
    if verdict.state is State.PROGRESSING:
        return {READY: "False", RECONCILING: "True", STALLED: "False"}
    if verdict.state is State.STALLED:
        return {READY: "False", RECONCILING: "False", STALLED: "True"}
    # Paused: nothing is observed, so Ready keeps what was last known.
    return {READY: previous_ready or "Unknown", RECONCILING: "False", STALLED: "False"}


def find(conditions: Sequence[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    """The condition of type ``kind``, if present."""
    for condition in conditions or ():
        if condition.get("type") == kind:
            return condition
    return None


def build(
    verdict: Verdict,
    previous: Sequence[Mapping[str, Any]] | None,
    *,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The three conditions for ``verdict``; an unchanged status keeps its lastTransitionTime."""
    old_ready = find(previous, READY)
    statuses = _statuses(verdict, str(old_ready["status"]) if old_ready else None)
    result = []
    for kind in (READY, RECONCILING, STALLED):
        status = statuses[kind]
        old = find(previous, kind)
        transition = (
            str(old["lastTransitionTime"])
            if old is not None and old.get("status") == status and old.get("lastTransitionTime")
            else rfc3339(now)
        )
        # The condition that carries the verdict says why; the others say which verdict holds.
        observed = generation
        if verdict.state is State.PAUSED and kind == READY and old is not None:
            # Ready keeps what was last known, for the generation it was known for.
            reason, message = str(old.get("reason", verdict.reason)), str(old.get("message", ""))
            observed = old.get("observedGeneration")
        else:
            reason, message = verdict.reason, verdict.message
        condition: dict[str, Any] = {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": transition,
        }
        if observed is not None:
            condition["observedGeneration"] = observed
        result.append(condition)
    return result


def stalled_at(conditions: Sequence[Mapping[str, Any]] | None, generation: int | None) -> str | None:
    """The Stalled reason if the object stalled on this very generation, else None."""
    stalled = find(conditions, STALLED)
    if stalled is None or stalled.get("status") != "True":
        return None
    if generation is not None and stalled.get("observedGeneration") != generation:
        return None
    return str(stalled.get("reason", ""))


def is_ready(conditions: Sequence[Mapping[str, Any]] | None) -> bool:
    """Whether the Ready condition is True."""
    ready = find(conditions, READY)
    return ready is not None and ready.get("status") == "True"
