"""The contract between the generic loop and each kind, after Crossplane's external client.

A driver observes, creates and deletes; it calls ENS and reads Kubernetes through the pass, and
returns what it learnt and what should be recorded. It never writes to Kubernetes: the loop
(``loop.py``) persists the intent before a create and the id right after, writes the status,
posts events and maps errors to verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from ens_image_operator.api.common import ApiModel
from ens_image_operator.ens.errors import EnsError
from ens_image_operator.reconcile.conditions import State, Verdict
from ens_image_operator.reconcile.failures import nothing_created
from ens_image_operator.reconcile.ports import Cloud, CloudFactory, EventType, ObjectView
from ens_image_operator.reconcile.timing import Intervals

SpecT = TypeVar("SpecT", bound=ApiModel)
StatusT = TypeVar("StatusT", bound=ApiModel)


@dataclass
class Outcome:
    """What one pass decided: the verdict, the status fields to record, when to look again."""

    verdict: Verdict
    record: ApiModel | None = None  # a partial status model: the fields it sets (None removes)
    requeue: float | None = None  # seconds; None: nothing to poll for (stable or terminally stalled)
    # Set by the loop, never by a driver: the pass already stored this outcome's status (a create
    # writes it with the new id), so finishing the pass only posts the transition's event.
    stored: bool = False

    @property
    def status(self) -> dict[str, Any]:
        """The record as a merge patch of the status (camelCase keys)."""
        return self.record.to_patch() if self.record is not None else {}


@dataclass(frozen=True)
class Event:
    """A Kubernetes event to post about the object."""

    type: EventType
    reason: str
    message: str


@dataclass
class Observation:
    """What ``observe`` learnt about the cloud resource."""

    outcome: Outcome | None = None  # None with ``exists``: nothing changed, nothing to write
    exists: bool = True  # False: nothing exists yet (proven), so the loop creates it
    up_to_date: bool = True  # False: it exists but a mutable field differs, so the loop updates it
    found: ApiModel | None = None  # recorded at once, before the outcome (an id found again)
    event: Event | None = None
    target: str | None = None  # with ``exists=False``: the id the create acts on, if any

    @classmethod
    def absent(cls, target: str | None = None) -> Observation:
        """Nothing exists in the cloud yet: create it."""
        return cls(exists=False, target=target)


@dataclass
class Intent:
    """What a create records before its call (so a crash cannot repeat it) and how to undo that."""

    record: ApiModel  # written only if the object is unchanged since the loop read it
    undo: ApiModel  # written when the call was refused and certainly created nothing


@dataclass
class Created:
    """What a create returns: the id to record right after the call, and the pass's outcome."""

    record: ApiModel
    outcome: Outcome


@dataclass
class Deletion:
    """One pass of a deletion: whether the finalizer may go, and what to show meanwhile."""

    done: bool
    outcome: Outcome | None = None
    retry_after: float | None = None
    event: Event | None = None


@dataclass(frozen=True)
class ImageRefState:
    """What a referencing object needs to know about an EnsImage in its namespace."""

    image_id: str | None
    ready: bool


class Cluster(Protocol):
    """What a pass may read from Kubernetes besides its own object."""

    async def image(self, namespace: str, name: str) -> ImageRefState | None:
        """The EnsImage ``namespace/name``, or None when it does not exist."""

    async def running_exports(self, view: ObjectView, image_id: str | None) -> list[str]:
        """Names of the exports of this EnsImage (or of ``image_id``) still running."""

    async def ownership_conflict(self, view: ObjectView) -> Verdict | None:
        """Stalled when another object manages this image or uses its ENS name in the account."""

    async def other_claimant(self, view: ObjectView) -> str | None:
        """Who else still claims this object's image (a message), when someone does."""


class NoCluster:
    """A pass that needs nothing else from Kubernetes."""

    async def image(self, namespace: str, name: str) -> ImageRefState | None:
        return None

    async def running_exports(self, view: ObjectView, image_id: str | None) -> list[str]:
        return []

    async def ownership_conflict(self, view: ObjectView) -> Verdict | None:
        return None

    async def other_claimant(self, view: ObjectView) -> str | None:
        return None


@dataclass
class Pass(Generic[SpecT, StatusT]):
    """One pass over one object, as a driver sees it."""

    view: ObjectView
    spec: SpecT
    status: StatusT  # typed, as stored (re-read by the loop before a create or a delete)
    now: datetime
    cluster: Cluster
    cloud_factory: CloudFactory
    # A partial status: what the pass learnt that the loop records whatever the outcome, even a
    # failure (when a deletion began, an id found again).
    learnt: StatusT
    _cloud: Cloud | None = None

    async def cloud(self) -> Cloud:
        """The object's ENS client and snapshots; loaded once, raises CredentialsProblem."""
        if self._cloud is None:
            self._cloud = await self.cloud_factory()
        return self._cloud

    @property
    def source(self) -> str:
        """Where the credentials came from, once loaded ("" before)."""
        return self._cloud.source if self._cloud is not None else ""


DeletionPolicy = Literal["Delete", "Retain"]


class Driver(Generic[SpecT, StatusT]):
    """One kind's part of the reconcile loop. Subclasses set the models and override what they do."""

    spec_model: ClassVar[type[ApiModel]]
    status_model: ClassVar[type[ApiModel]]
    # Status fields that show a create was started or recorded: when a fresh read differs in any,
    # another pass got there first and the loop observes again before creating.
    intent_fields: ClassVar[tuple[str, ...]] = ()
    # Whether objects of this kind claim a cloud image (one manager per image, one name per account).
    claims: ClassVar[bool] = False
    # What each step calls, for messages: "ImportImage was throttled, retrying: ...".
    observing: ClassVar[str] = "ENS"
    creating: ClassVar[str] = "create"
    updating: ClassVar[str] = "update"
    deleting: ClassVar[str] = "delete"

    def __init__(self, intervals: Intervals) -> None:
        self.intervals = intervals

    def check(self, p: Pass[SpecT, StatusT]) -> Verdict | None:
        """A spec error the schema cannot express (Stalled naming the field), or None."""
        return None

    async def observe(self, p: Pass[SpecT, StatusT]) -> Observation:
        """What exists in the cloud, and the outcome it implies."""
        raise NotImplementedError

    def intent(self, p: Pass[SpecT, StatusT], target: str | None) -> Intent:
        """The intent to record before ``create`` (only asked when ``observe`` found nothing)."""
        raise NotImplementedError(f"{type(self).__name__} creates nothing")

    async def create(self, p: Pass[SpecT, StatusT], target: str | None) -> Created:
        """Call the cloud's non-idempotent create."""
        raise NotImplementedError(f"{type(self).__name__} creates nothing")

    async def update(self, p: Pass[SpecT, StatusT], observed: Outcome) -> Outcome:
        """Bring a mutable field in line with the spec (asked when ``observe`` found it differs)."""
        raise NotImplementedError(f"{type(self).__name__} updates nothing")

    def created_nothing(self, error: EnsError) -> bool:
        """Whether a failed create certainly had no effect, so its intent may be undone."""
        return nothing_created(error)

    def deletion_policy(self, spec: SpecT) -> DeletionPolicy | None:
        """What deleting the object does in the cloud; None: the kind owns nothing there."""
        return None

    async def delete(self, p: Pass[SpecT, StatusT]) -> Deletion:
        """One pass of deleting the cloud resource (asked only under the Delete policy)."""
        return Deletion(done=True)

    def waiting(self, reason: str, message: str, requeue: float | None = None) -> Outcome:
        """Reconciling: something is under way; look again after ``requeue`` (default: fast)."""
        return Outcome(Verdict(State.PROGRESSING, reason, message), requeue=requeue or self.intervals.fast)


def intent_of(status: ApiModel, fields: tuple[str, ...]) -> Mapping[str, Any]:
    """The intent fields of a status, for comparing two reads."""
    return {name: getattr(status, name) for name in fields}
