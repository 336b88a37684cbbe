"""One manager per image, one name per account: who owns what, and the verdict for a latecomer.

Every EnsImage claims an image id (the one it adopts, or the one its import recorded) and, when it
imports, an ENS image name in the account its credentials belong to. When two objects claim the
same thing, the one that recorded it in its status first owns it; between two that recorded
nothing yet, the older one. The other is Stalled and makes no ENS write, so `deletionPolicy:
Delete` on one can never delete an image another object manages, and recovery by name can never
pick up another object's image.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ens_image_operator.reconcile.conditions import State, Verdict
from ens_image_operator.reconcile.ports import ObjectView

Key = tuple[str, str]  # (namespace, name)

ALREADY_MANAGED = "AlreadyManaged"
IMAGE_NAME_IN_USE = "ImageNameInUse"
ADOPTION_NOT_ALLOWED = "AdoptionNotAllowed"
REASONS = frozenset({ALREADY_MANAGED, IMAGE_NAME_IN_USE, ADOPTION_NOT_ALLOWED})


@dataclass(frozen=True)
class Claim:
    """What one EnsImage claims."""

    namespace: str
    name: str
    uid: str
    created: str  # metadata.creationTimestamp (RFC 3339 sorts as text)
    image_id: str | None  # adopted or recorded
    ens_name: str | None  # the name it imports under; None when adopting
    credentials_ref: str | None
    recorded: bool  # the status carries the image id: it has been managing it

    @property
    def key(self) -> Key:
        return self.namespace, self.name

    def rank(self) -> tuple[int, str, str, str]:
        """Lower ranks own: recorded first, then the oldest, then by name for a stable order."""
        return (0 if self.recorded else 1, self.created, self.namespace, self.name)


def claim_of(body: Mapping[str, Any]) -> Claim:
    """The claim of an EnsImage body."""
    return claim_of_view(ObjectView.from_body(body))


def claim_of_view(view: ObjectView) -> Claim:
    """The claim of an EnsImage, as a pass sees it."""
    spec, status = view.spec, view.status
    adopted = spec.get("imageId")
    ref = spec.get("credentialsRef")
    return Claim(
        namespace=view.namespace,
        name=view.name,
        uid=view.uid,
        created=view.created,
        image_id=adopted or status.get("imageId"),
        ens_name=None if adopted else str(spec.get("imageName") or view.name),
        credentials_ref=ref.get("name") if isinstance(ref, Mapping) else None,
        recorded=bool(status.get("imageId")),
    )


class Claims:
    """Claims by image id and by ENS name, kept from the same watch events as the scheduler's index."""

    def __init__(self) -> None:
        self._by_key: dict[Key, Claim] = {}
        self._by_id: dict[str, set[Key]] = {}
        self._by_name: dict[str, set[Key]] = {}

    def put(self, claim: Claim) -> None:
        self._drop(claim.key)
        self._by_key[claim.key] = claim
        if claim.image_id:
            self._by_id.setdefault(claim.image_id, set()).add(claim.key)
        if claim.ens_name:
            self._by_name.setdefault(claim.ens_name, set()).add(claim.key)

    def remove(self, key: Key, uid: str) -> None:
        current = self._by_key.get(key)
        if current is not None and current.uid == uid:
            self._drop(key)

    def clear(self) -> None:
        self._by_key.clear()
        self._by_id.clear()
        self._by_name.clear()

    def _drop(self, key: Key) -> None:
        old = self._by_key.pop(key, None)
        if old is None:
            return
        for table, value in ((self._by_id, old.image_id), (self._by_name, old.ens_name)):
            if value and value in table:
                table[value].discard(key)
                if not table[value]:
                    del table[value]

    def sharing_id(self, claim: Claim) -> list[Claim]:
        """Other objects claiming the same image id."""
        keys = self._by_id.get(claim.image_id or "", set()) - {claim.key}
        return [self._by_key[key] for key in keys]

    def sharing_name(self, claim: Claim) -> list[Claim]:
        """Other objects importing under the same ENS name (in any account)."""
        keys = self._by_name.get(claim.ens_name or "", set()) - {claim.key}
        return [self._by_key[key] for key in keys]


ScopeOf = Callable[[Claim], Awaitable[str]]  # the credentials scope (account) a claim acts in
Refresh = Callable[[Claim], Awaitable[Claim | None]]  # the other object's claim as stored now


async def conflict(
    claim: Claim,
    claims: Claims,
    scope_of: ScopeOf,
    refresh: Refresh,
    *,
    operator_scope: str,
    adoption_namespaces: Iterable[str] = (),
) -> Verdict | None:
    """The Stalled verdict for an object that must not act, or None when it may."""
    adopting = claim.ens_name is None
    allowed = list(adoption_namespaces)
    if adopting and allowed and claim.namespace not in allowed and await scope_of(claim) == operator_scope:
        message = (
            f"namespace {claim.namespace} may not adopt images with the operator's own credentials "
            "(setting adoption_namespaces): give this EnsImage a credentialsRef of its own"
        )
        return Verdict(State.STALLED, ADOPTION_NOT_ALLOWED, message)
    # An image id belongs to one account: the same id in another account is that account using an
    # image shared with it (observe-only there), which takes nothing from the owner's object.
    for other in sorted(claims.sharing_id(claim), key=Claim.rank):
        if (
            other.rank() < claim.rank()
            and await scope_of(other) == await scope_of(claim)
            and _still(await refresh(other), other, id_=claim.image_id)
        ):
            message = f"image {claim.image_id} is already managed by EnsImage {other.namespace}/{other.name}"
            return Verdict(State.STALLED, ALREADY_MANAGED, message)
    if adopting or claim.recorded:
        return None
    ours = await scope_of(claim)
    for other in sorted(claims.sharing_name(claim), key=Claim.rank):
        if (
            other.rank() < claim.rank()
            and await scope_of(other) == ours
            and _still(await refresh(other), other, name=claim.ens_name)
        ):
            message = (
                f"the ENS image name {claim.ens_name} is already used by EnsImage "
                f"{other.namespace}/{other.name} in the same account: set spec.imageName"
            )
            return Verdict(State.STALLED, IMAGE_NAME_IN_USE, message)
    return None


def _still(fresh: Claim | None, seen: Claim, *, id_: str | None = None, name: str | None = None) -> bool:
    """Whether the object we saw claiming something still exists and claims it (no ghost wins)."""
    if fresh is None or fresh.uid != seen.uid:
        return False
    return fresh.image_id == id_ if id_ is not None else fresh.ens_name == name
