"""In-memory stand-ins for the Kubernetes object and the ENS account, for reconcile tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ens_image_operator.ens.errors import EnsError, Invalid, NotFound
from ens_image_operator.ens.models import ExportImageInfo, ImageInfo, ImportImageRequest, SelfImage
from ens_image_operator.reconcile.conditions import Verdict
from ens_image_operator.reconcile.driver import ImageRefState
from ens_image_operator.reconcile.ports import Cloud, ObjectChanged, ObjectGone, ObjectView

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class FakeObject:
    """The object's status as the API server holds it; records patches and events in order."""

    def __init__(self, status: Mapping[str, Any] | None = None, log: list[str] | None = None) -> None:
        self.status: dict[str, Any] = dict(status or {})
        self.patches: list[dict[str, Any]] = []
        self.events: list[tuple[str, str, str]] = []
        self.log = log if log is not None else []
        # What a conditional write meets: someone else wrote first (409), or the object is gone (404).
        self.changed_meanwhile = False
        self.gone = False

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        self.patches.append(dict(patch))
        self.log.append("patch:" + ",".join(sorted(patch)))
        for key, value in patch.items():
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = value

    async def fresh_status(self, *, before_claim: bool = False) -> dict[str, Any]:
        return dict(self.status)  # always as stored: the fake has no versions to make a claim fail

    async def claim_status(self, patch: Mapping[str, Any]) -> None:
        self.log.append("claim:" + ",".join(sorted(patch)))
        if self.gone:
            raise ObjectGone("the object was deleted")
        if self.changed_meanwhile:
            raise ObjectChanged("the object was written since it was read")
        await self.patch_status(patch)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    @property
    def event_reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


class FakeEns:
    """An ENS account: images by id, scripted failures, a log of the calls made."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.images: dict[str, SelfImage] = {}
        self.exports: dict[str, ExportImageInfo] = {}
        self.public: list[ImageInfo] = []
        self.log = log if log is not None else []
        self.fail: dict[str, EnsError] = {}
        self.imported: list[ImportImageRequest] = []
        self.crash_after_import = False
        # What the shared snapshot lists, when it lags behind the account (None: the account itself).
        self.listed: dict[str, SelfImage] | None = None
        self.shares: dict[str, set[str]] = {}
        self._next = 1

    def add_image(
        self, name: str, status: str = "Available", created: str = "2026-01-01T12:00:00Z", owner: str = "self"
    ) -> str:
        image_id = f"m-{self._next}"
        self._next += 1
        self.images[image_id] = SelfImage(
            image_id=image_id,
            image_name=name,
            status=status,
            creation_time=created,
            image_size=20,
            image_owner_alias=owner,
        )
        return image_id

    def _maybe_fail(self, action: str) -> None:
        self.log.append(action)
        if action in self.fail:
            raise self.fail[action]

    def calls(self, action: str) -> int:
        return self.log.count(action)

    async def import_image(self, request: ImportImageRequest) -> str:
        self._maybe_fail("ImportImage")
        self.imported.append(request)
        image_id = self.add_image(request.image_name, status="Creating")
        if self.crash_after_import:
            raise RuntimeError("the process died before the answer was recorded")
        return image_id

    async def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]:
        self._maybe_fail("DescribeSelfImages")
        for image in list(self.images.values()):
            if image_id and image.image_id != image_id:
                continue
            if image_name and image_name not in (image.image_name or ""):  # fuzzy, as ENS does
                continue
            yield image

    async def delete_image(self, image_id: str) -> None:
        self._maybe_fail("DeleteImage")
        if image_id not in self.images:
            raise NotFound("InvalidImageId.NotFound", "no such image", request_id="R-1")
        del self.images[image_id]

    async def export_image(
        self,
        *,
        image_id: str,
        oss_bucket: str,
        oss_region_id: str,
        oss_prefix: str | None = None,
        role_name: str | None = None,
    ) -> str:
        self._maybe_fail("ExportImage")
        url = f"https://{oss_bucket}.oss/{oss_prefix or ''}{image_id}.qcow2"
        self.exports[image_id] = ExportImageInfo(
            image_id=image_id, image_export_status="Exporting", exported_image_url=url
        )
        return url

    async def describe_image_infos(self, os_type: str | None = None) -> list[ImageInfo]:
        self._maybe_fail("DescribeImageInfos")
        return [info for info in self.public if os_type is None or info.os_type == os_type]

    async def iter_share_accounts(self, image_id: str) -> AsyncIterator[str]:
        self._maybe_fail("DescribeImageSharePermission")
        for account in sorted(self.shares.get(image_id, ())):
            yield account

    async def share_image(self, image_id: str, accounts: list[str]) -> None:
        self._maybe_fail("ModifyImageSharePermission")
        for account in accounts:
            if account.startswith("9"):  # an account ENS does not know
                raise Invalid("InvalidParameter.AddAccounts", f"account {account} does not exist")
            self.shares.setdefault(image_id, set()).add(account)
        self.log[-1] = f"share:{','.join(accounts)}"

    async def unshare_image(self, image_id: str, account: str) -> None:
        self._maybe_fail("ModifyImageSharePermission")
        self.shares.get(image_id, set()).discard(account)
        self.log[-1] = f"unshare:{account}"

    def set_status(self, image_id: str, status: str) -> None:
        self.images[image_id] = self.images[image_id].model_copy(update={"status": status})


class FakeSnapshots:
    """Uncached snapshots straight from the fake account."""

    def __init__(self, ens: FakeEns) -> None:
        self.ens = ens
        self.invalidations = 0

    async def self_images(self, max_age: float | None = None, need: Any = None) -> Mapping[str, SelfImage]:
        self.ens._maybe_fail("DescribeSelfImages")
        self.ens.log[-1] = "snapshot"  # a shared listing, told apart from a lookup by name
        return dict(self.ens.images if self.ens.listed is None else self.ens.listed)

    async def export_infos(self) -> Mapping[str, ExportImageInfo]:
        self.ens.log.append("DescribeExportImageInfo")
        return dict(self.ens.exports)

    def invalidate(self, *, images: bool = True, exports: bool = True) -> None:
        self.invalidations += 1


def cloud_of(ens: FakeEns) -> Any:
    async def factory() -> Cloud:
        return Cloud(ens, FakeSnapshots(ens), "Secret default/ens-credentials")

    return factory


def view(
    spec: Mapping[str, Any],
    status: Mapping[str, Any] | None = None,
    *,
    name: str = "web",
    generation: int = 1,
    annotations: Mapping[str, str] | None = None,
    deleting: bool = False,
) -> ObjectView:
    return ObjectView(
        namespace="default",
        name=name,
        uid=f"uid-{name}",
        generation=generation,
        spec=dict(spec),
        status=dict(status or {}),
        annotations=dict(annotations or {}),
        deleting=deleting,
    )


IMPORT_SPEC = {"source": {"oss": {"bucket": "images", "object": "web.qcow2", "region": "cn-beijing"}}}


class FakeCluster:
    """The rest of the cluster as a pass reads it: one referenced image, running exports, no claims."""

    def __init__(self, image: ImageRefState | None = None, exports: list[str] | None = None) -> None:
        self.ref = image
        self.exports = list(exports or [])

    async def image(self, namespace: str, name: str) -> ImageRefState | None:
        return self.ref

    async def running_exports(self, view: ObjectView, image_id: str | None) -> list[str]:
        return self.exports

    async def ownership_conflict(self, view: ObjectView) -> Verdict | None:
        return None

    async def other_claimant(self, view: ObjectView) -> str | None:
        return None
