"""What the reconcile logic needs from the outside world, as protocols (kopf and Kubernetes stay out)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ens_image_operator.ens.models import ExportImageInfo, ImageInfo, ImportImageRequest, SelfImage

EventType = Literal["Normal", "Warning"]


class LostWrite(Exception):
    """A conditional status write did not happen: the pass must end without calling the cloud."""


class ObjectChanged(LostWrite):
    """Someone wrote the object since this pass read it (HTTP 409 on the precondition)."""


class ObjectGone(LostWrite):
    """The object no longer exists (HTTP 404)."""


class ObjectHandle(Protocol):
    """The Kubernetes object being reconciled: write its status, re-read it, post events."""

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        """Merge-patch the status subresource at once (None values remove fields).

        A recorded ``imageId`` is never removed: a None for it is dropped from the patch.
        """

    async def fresh_status(self, *, before_claim: bool = False) -> dict[str, Any]:
        """The object's status as the API server has it now (remembered as the next precondition).

        ``before_claim``: only a :meth:`claim_status` follows, conditional on the version this
        answer is from. The handle may then answer from the object as the watch delivered it,
        without a read: if the object moved on since, the claim fails and nothing is created.
        """

    async def claim_status(self, patch: Mapping[str, Any]) -> None:
        """Merge-patch the status only if the object is unchanged since the last ``fresh_status``
        (or, before any, since the version it was delivered at).

        Raises :class:`ObjectChanged` when another write came first, :class:`ObjectGone` when the
        object was deleted meanwhile.
        """

    def event(self, type_: EventType, reason: str, message: str) -> None:
        """Post a Kubernetes event about the object."""


class EnsApi(Protocol):
    """The part of the ENS client the reconcilers call."""

    async def import_image(self, request: ImportImageRequest) -> str: ...

    def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]: ...

    async def delete_image(self, image_id: str) -> None: ...

    async def export_image(
        self,
        *,
        image_id: str,
        oss_bucket: str,
        oss_region_id: str,
        oss_prefix: str | None = None,
        role_name: str | None = None,
    ) -> str: ...

    async def describe_image_infos(self, os_type: str | None = None) -> list[ImageInfo]: ...

    def iter_share_accounts(self, image_id: str) -> AsyncIterator[str]: ...

    async def share_image(self, image_id: str, accounts: list[str]) -> None: ...

    async def unshare_image(self, image_id: str, account: str) -> None: ...


class Snapshots(Protocol):
    """Shared, coalesced listings of one credentials scope (see ``poller.py``)."""

    async def self_images(
        self, max_age: float | None = None, need: Collection[str] | None = None
    ) -> Mapping[str, SelfImage]:
        """Images by id, from a listing no older than ``max_age`` (default: the scope's own).

        ``need``: the ids this reader looks for (default: what the scheduler planned, or all).
        """

    async def all_self_images(self, max_age: float) -> Mapping[str, SelfImage]:
        """Every image, from a full listing no older than ``max_age``, listed in the background."""

    async def export_infos(self) -> Mapping[str, ExportImageInfo]: ...

    def invalidate(self, *, images: bool = True, exports: bool = True) -> None:
        """Forget the named snapshots: the next read lists again (after a write to the cloud)."""

    def want(self, ids: Collection[str] | None) -> None:
        """The image ids the next reads need (None: every image); a few are looked up, not listed."""


@dataclass
class Cloud:
    """Everything needed to talk to ENS with one object's credentials."""

    client: EnsApi
    snapshots: Snapshots
    source: str  # where the credentials came from, for messages: "Secret ns/name" or "operator"
    # A client that never retries by itself, for calls that are not idempotent (ImportImage): a retry
    # after a lost answer would create a second image. The reconcile pass decides instead.
    once: EnsApi | None = None

    @property
    def single_shot(self) -> EnsApi:
        """The client for non-idempotent calls."""
        return self.once or self.client


CloudFactory = Callable[[], Awaitable[Cloud]]


@dataclass(frozen=True)
class ObjectView:
    """The parts of a Kubernetes object the reconcilers read."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)
    deleting: bool = False
    created: str = ""  # metadata.creationTimestamp (RFC 3339 sorts as text)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ObjectView:
        """Build the view from a raw object body."""
        metadata = body.get("metadata") or {}
        generation = metadata.get("generation")
        return cls(
            namespace=str(metadata.get("namespace") or ""),
            name=str(metadata.get("name") or ""),
            uid=str(metadata.get("uid") or f"{metadata.get('namespace')}/{metadata.get('name')}"),
            generation=int(generation) if generation is not None else None,
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
            annotations=dict(metadata.get("annotations") or {}),
            deleting=bool(metadata.get("deletionTimestamp")),
            created=str(metadata.get("creationTimestamp") or ""),
        )
