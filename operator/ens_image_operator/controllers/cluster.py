"""What a pass reads from Kubernetes besides its own object: referenced images, exports, claims."""

from __future__ import annotations

from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_EXPORT
from ens_image_operator.controllers import ownership, scheduler
from ens_image_operator.controllers.kube import KubeApi
from ens_image_operator.credentials_scope import OPERATOR_SCOPE, CredentialScopes
from ens_image_operator.reconcile.conditions import Verdict, is_ready
from ens_image_operator.reconcile.driver import ImageRefState
from ens_image_operator.reconcile.failures import CredentialsProblem
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.settings import Settings


class KubeCluster:
    """A :class:`~ens_image_operator.reconcile.driver.Cluster` over the API and the watch-fed claims."""

    def __init__(
        self, kube: KubeApi, claims: ownership.Claims, scopes: CredentialScopes, settings: Settings
    ) -> None:
        self.kube = kube
        self.claims = claims
        self.scopes = scopes
        self.settings = settings

    async def image(self, namespace: str, name: str) -> ImageRefState | None:
        body = await self.kube.get(ENS_IMAGE, namespace, name)
        if body is None:
            return None
        status = body.get("status") or {}
        return ImageRefState(status.get("imageId"), is_ready(status.get("conditions")))

    async def running_exports(self, view: ObjectView, image_id: str | None) -> list[str]:
        # Listed, not read from the index: at start-up the index may not hold every export yet.
        bodies = await self.kube.list(ENS_IMAGE_EXPORT, self.settings.namespaces)
        return scheduler.running_exports(scheduler.export_entries(bodies), view, image_id)

    async def _scope_of(self, claim: ownership.Claim) -> str:
        """The account a claim acts in (its credentials scope)."""
        try:
            return await self.scopes.scope_key(claim.namespace, claim.credentials_ref)
        except CredentialsProblem:
            return f"unresolved {claim.namespace}/{claim.credentials_ref}"  # the pass reports it

    async def ownership_conflict(self, view: ObjectView) -> Verdict | None:
        claim = ownership.claim_of_view(view)

        async def refresh(other: ownership.Claim) -> ownership.Claim | None:
            fresh = await self.kube.get(ENS_IMAGE, other.namespace, other.name)
            return ownership.claim_of(fresh) if fresh is not None else None

        return await ownership.conflict(
            claim,
            self.claims,
            self._scope_of,
            refresh,
            operator_scope=OPERATOR_SCOPE,
            adoption_namespaces=self.settings.adoption_namespaces,
        )

    async def other_claimant(self, view: ObjectView) -> str | None:
        claim = ownership.claim_of_view(view)
        if not claim.image_id:
            return None
        ours = await self._scope_of(claim)
        for other in self.claims.sharing_id(claim):
            if await self._scope_of(other) != ours:
                continue  # another account using the image shared with it: it keeps no share
            fresh = await self.kube.get(ENS_IMAGE, other.namespace, other.name)
            if fresh is not None and ownership.claim_of(fresh).image_id == claim.image_id:
                return f"image {other.image_id} is also claimed by EnsImage {other.namespace}/{other.name}"
        return None
