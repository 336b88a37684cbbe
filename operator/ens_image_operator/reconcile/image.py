"""The EnsImage driver: import from OSS (crash-safe), adopt by id, follow the image, delete per policy."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from typing import cast

from ens_image_operator.api.image import IMAGE_NAME_PATTERN, EnsImageSpec, EnsImageStatus
from ens_image_operator.ens.errors import Invalid, NotFound
from ens_image_operator.ens.models import DiskDeviceMapping, ImportImageRequest, SelfImage
from ens_image_operator.reconcile.conditions import State, Verdict, parse_time, rfc3339
from ens_image_operator.reconcile.driver import (
    Created,
    Deletion,
    DeletionPolicy,
    Driver,
    Event,
    Intent,
    Observation,
    Outcome,
    Pass,
)
from ens_image_operator.reconcile.ports import Cloud, ObjectView
from ens_image_operator.reconcile.timing import Intervals

AVAILABLE = "Available"
FAILED_STATUSES = frozenset({"Pack_failed", "Upload_failed"})
IMPORTING_STATUSES = frozenset({"Creating", "Packing", "Uploading", "Copying"})
# An image found by name counts as ours only if ENS created it after our intent (minus clock skew):
# an older image that merely shares the name belongs to someone else.
CLOCK_SKEW = timedelta(minutes=5)

_IMAGE_NAME = re.compile(IMAGE_NAME_PATTERN)


class ImportStep(Enum):
    """The crash-safe import decision, from what the status recorded."""

    OBSERVE = "observe"  # the image id is known: follow the image
    RECOVER = "recover"  # an import was started but its id never recorded: find it by name first
    IMPORT = "import"  # nothing recorded yet: record the intent, then call ImportImage


def import_step(status: EnsImageStatus) -> ImportStep:
    """What to do next for an imported image, given only what the status recorded."""
    if status.image_id:
        return ImportStep.OBSERVE
    if status.import_started_at:
        return ImportStep.RECOVER
    return ImportStep.IMPORT


def pick_recovered(candidates: Iterable[SelfImage], name: str, intent: datetime | None) -> SelfImage | None:
    """The image our interrupted import created: exact name, created no earlier than the intent.

    DescribeSelfImages filters names fuzzily, so names are compared exactly here. An image whose
    creation time cannot be read is accepted: importing a second time is the worse mistake.
    """
    matches = []
    for image in candidates:
        if image.image_name != name:
            continue
        created = parse_time(image.creation_time)
        if intent is not None and created is not None and created < intent - CLOCK_SKEW:
            continue
        matches.append(image)
    matches.sort(key=lambda image: image.creation_time or "")
    return matches[0] if matches else None


def image_name(spec: EnsImageSpec, view: ObjectView) -> str:
    """The name in ENS: spec.imageName, else the object's name."""
    return spec.image_name or view.name


def deletion_policy(spec: EnsImageSpec) -> DeletionPolicy:
    """Delete for imported images, Retain for adopted ones, unless the spec says otherwise."""
    if spec.deletion_policy:
        return spec.deletion_policy
    return "Retain" if spec.image_id else "Delete"


def import_request(spec: EnsImageSpec, name: str) -> ImportImageRequest:
    """The ImportImage parameters for this spec."""
    assert spec.source is not None
    oss = spec.source.oss
    return ImportImageRequest(
        image_name=name,
        os_type=spec.os_type,
        architecture=spec.architecture,
        image_format=spec.image_format,
        compute_type=spec.compute_type,
        oss_bucket=oss.bucket,
        oss_object=oss.object,
        oss_region=oss.region,
        platform=spec.platform,
        os_version=spec.os_version,
        license_type=spec.license_type,
        target_oss_region_id=spec.target_oss_region_id,
        disk_device_mapping=[
            DiskDeviceMapping(oss_bucket=disk.bucket, oss_object=disk.object, oss_region=disk.region)
            for disk in spec.data_disks or []
        ],
    )


def observed_fields(image: SelfImage) -> EnsImageStatus:
    """Status fields copied from what ENS reports about the image."""
    return EnsImageStatus(
        image_id=image.image_id,
        image_status=image.status,
        image_size=str(image.image_size) if image.image_size is not None else None,
        architecture=image.architecture,
        platform=image.platform,
        os_version=image.os_version,
        creation_time=image.creation_time,
    )


def image_verdict(image: SelfImage, *, adopted: bool) -> Verdict:
    """Ready when Available, Stalled when the import failed, else still importing."""
    status = image.status or "Unknown"
    if status == AVAILABLE:
        return Verdict(State.READY, "Available", f"image {image.image_id} is Available")
    if status in FAILED_STATUSES:
        return Verdict(State.STALLED, "ImportFailed", f"image {image.image_id} is {status}")
    if status not in IMPORTING_STATUSES:
        # e.g. Unavailable: not a failed import, but not usable either; keep watching it closely.
        return Verdict(State.PROGRESSING, "ImageNotAvailable", f"image {image.image_id} is {status}")
    if adopted:
        return Verdict(State.PROGRESSING, "WaitingForImage", f"image {image.image_id} is {status}")
    return Verdict(State.PROGRESSING, "Importing", f"image {image.image_id} is {status}")


def importing_message(image_id: str, name: str) -> str:
    """What an import shows from ImportImage's answer until ENS lists the image."""
    return f"image {image_id} ({name}) is being imported"


ImagePass = Pass[EnsImageSpec, EnsImageStatus]


class ImageDriver(Driver[EnsImageSpec, EnsImageStatus]):
    """EnsImage: observe (adopt, follow, recover an interrupted import), create (import), delete."""

    spec_model = EnsImageSpec
    status_model = EnsImageStatus
    intent_fields = ("image_id", "import_started_at")
    claims = True
    creating = "ImportImage"
    updating = "ModifyImageSharePermission"
    deleting = "DeleteImage"

    def __init__(
        self,
        intervals: Intervals,
        *,
        import_timeout: float,
        delete_wait_timeout: float,
        listing_lag: float = 120.0,
    ) -> None:
        super().__init__(intervals)
        self.import_timeout = import_timeout
        self.delete_wait_timeout = delete_wait_timeout
        # A new image may stay invisible to DescribeSelfImages (listings and lookups) for this long:
        # inside it, "not found" after an intent means "not yet", never "never".
        self.listing_lag = listing_lag

    def check(self, p: ImagePass) -> Verdict | None:
        if p.spec.image_id:
            return None
        name = image_name(p.spec, p.view)
        if _IMAGE_NAME.match(name):
            return None
        message = (
            f"{name!r} is not a valid ENS image name: set spec.imageName "
            "(2-128 characters, starting with a letter)"
        )
        return Verdict(State.STALLED, "InvalidImageName", message)

    def deletion_policy(self, spec: EnsImageSpec) -> DeletionPolicy:
        return deletion_policy(spec)

    # --- observe -----------------------------------------------------------------------------

    async def observe(self, p: ImagePass) -> Observation:
        if p.spec.image_id:
            return await self._adopt(p.spec.image_id, p)
        step = import_step(p.status)
        if step is ImportStep.OBSERVE:
            assert p.status.image_id is not None
            return await self._follow(p.status.image_id, p)
        if step is ImportStep.RECOVER:
            return await self._recover_interrupted(p)
        return Observation.absent()

    async def _adopt(self, image_id: str, p: ImagePass) -> Observation:
        cloud = await p.cloud()
        image = await self._by_id(image_id, cloud)
        if image is None:
            return Observation(self._not_listed(image_id, p, cloud))
        return await self._observed(image, image_verdict(image, adopted=True), p)

    def _not_listed(self, image_id: str, p: ImagePass, cloud: Cloud) -> Outcome:
        """An adopted image that ENS does not list: not yet (inside the listing lag), or not at all."""
        since = _reconciling_since(p.view) or p.now
        left = self.listing_lag - (p.now - since).total_seconds()
        if left > 0:
            # A lookup inside the listing lag cannot prove a new image absent: look again.
            message = (
                f"image {image_id} is not listed in ENS ({cloud.source}) yet; "
                f"a new image may take up to {int(self.listing_lag)}s to show"
            )
            return self.waiting(
                "WaitingForImage", message, max(self.intervals.fast, min(left, 3 * self.intervals.fast))
            )
        if p.status.owner == "others":
            message = (
                f"image {image_id} is no longer shared with this account ({cloud.source}): "
                "its owner withdrew the share"
            )
            return Outcome(Verdict(State.STALLED, "ShareWithdrawn", message))
        return Outcome(
            Verdict(State.STALLED, "NotFound", f"image {image_id} does not exist in ENS ({cloud.source})")
        )

    async def _recover_interrupted(self, p: ImagePass) -> Observation:
        """An import was started but its id never recorded: find its image before importing again."""
        name = image_name(p.spec, p.view)
        intent = parse_time(p.status.import_started_at)
        settling = self._settling(intent, p.now)
        # While the interrupted call may still surface, the shared snapshot is enough; only the
        # last look before importing again asks ENS by name.
        found = await self._recover(name, p.status, await p.cloud(), authoritative=not settling)
        if found is not None:
            verdict = image_verdict(found, adopted=False)
            return Observation(
                Outcome(verdict, observed_fields(found), self._requeue(verdict)),
                found=EnsImageStatus(image_id=found.image_id, image_name=name),
                event=Event("Normal", "Recovered", f"found image {found.image_id} of an interrupted import"),
            )
        if settling:
            assert intent is not None
            message = f"an interrupted import of {name} may still appear; looking again before importing"
            # Nothing to learn before the window closes: looking every fast interval would only
            # force listings (and, under faults, retries of them) that cannot change the decision.
            left = self.listing_lag - (p.now - intent).total_seconds()
            return Observation(self.waiting("Importing", message, max(self.intervals.fast, left)))
        return Observation.absent()

    def _settling(self, intent: datetime | None, now: datetime) -> bool:
        """Whether an image imported at ``intent`` may still be invisible to ENS listings and lookups."""
        return intent is not None and (now - intent).total_seconds() < self.listing_lag

    async def _by_id(self, image_id: str, cloud: Cloud) -> SelfImage | None:
        """The image, from the shared snapshot or, when it is not there, from ENS directly.

        The snapshot may predate the image: only a lookup made now may call it absent.
        """
        image = (await cloud.snapshots.self_images(need={image_id})).get(image_id)
        if image is not None:
            return image
        async for found in cloud.client.iter_self_images(image_id=image_id):
            if found.image_id == image_id:
                return found
        return None

    async def _recover(
        self, name: str, status: EnsImageStatus, cloud: Cloud, *, authoritative: bool = True
    ) -> SelfImage | None:
        """The image an interrupted import created: from the snapshot, then (if asked) by name."""
        intent = parse_time(status.import_started_at)
        found = pick_recovered((await cloud.snapshots.self_images()).values(), name, intent)
        if found is not None or not authoritative:
            return found
        candidates = [image async for image in cloud.client.iter_self_images(image_name=name)]
        return pick_recovered(candidates, name, intent)

    async def _follow(self, image_id: str, p: ImagePass) -> Observation:
        cloud = await p.cloud()
        started = parse_time(p.status.import_started_at)
        if self._settling(started, p.now):
            # A lookup could not prove the new image absent yet: the snapshot is enough meanwhile.
            image = (await cloud.snapshots.self_images(need={image_id})).get(image_id)
        else:
            image = await self._by_id(image_id, cloud)
        if image is None:
            if self._settling(started, p.now):
                # The verdict the import left (same reason, same message): nothing new to write.
                message = importing_message(image_id, image_name(p.spec, p.view))
                return Observation(self.waiting("Importing", message))
            message = f"image {image_id} no longer exists in ENS: delete this EnsImage and create it again"
            return Observation(Outcome(Verdict(State.STALLED, "NotFound", message)))
        verdict = image_verdict(image, adopted=False)
        if (
            verdict.state is State.PROGRESSING
            and started is not None
            and (p.now - started).total_seconds() > self.import_timeout
        ):
            verdict = Verdict(
                State.STALLED,
                "ImportTimeout",
                f"image {image_id} is still {image.status} after {int(self.import_timeout)}s",
            )
        return await self._observed(image, verdict, p)

    # --- sharing -----------------------------------------------------------------------------

    async def _observed(self, image: SelfImage, verdict: Verdict, p: ImagePass) -> Observation:
        """The outcome for an image ENS lists: its fields, its owner and, where managed, its shares."""
        record = observed_fields(image)
        record.owner = "others" if image.image_owner_alias == "others" else "self"
        wanted = p.spec.shared_with
        if wanted is None:
            record.shared_with = None  # not managed: the share list is left as it is
        elif record.owner == "others":
            message = (
                f"image {image.image_id} belongs to another account, which shares it with this one: "
                "it cannot be shared onward; remove spec.sharedWith"
            )
            return Observation(Outcome(Verdict(State.STALLED, "NotImageOwner", message), record))
        elif verdict.state is State.READY:
            # Shared once Available; the list is read at every pass of a Ready image, so a change
            # made outside is undone at the next pass (the drift check runs one per slow interval).
            cloud = await p.cloud()
            current = sorted({account async for account in cloud.client.iter_share_accounts(image.image_id)})
            record.shared_with = current
            outcome = Outcome(verdict, record, self._requeue(verdict))
            return Observation(outcome, up_to_date=current == sorted(set(wanted)))
        return Observation(Outcome(verdict, record, self._requeue(verdict)))

    async def update(self, p: ImagePass, observed: Outcome) -> Outcome:
        """Converge the image's share list to spec.sharedWith: one account per call, adds first."""
        record = cast(EnsImageStatus, observed.record)
        assert record.image_id is not None and p.spec.shared_with is not None
        image_id, cloud = record.image_id, await p.cloud()
        current = {account async for account in cloud.client.iter_share_accounts(image_id)}
        wanted = set(p.spec.shared_with)
        for account in sorted(wanted - current):
            try:
                await cloud.client.share_image(image_id, [account])
            except (Invalid, NotFound) as error:
                record.shared_with = sorted(current)
                message = (
                    f"sharing image {image_id} with account {account} (spec.sharedWith) was refused: {error}"
                )
                return Outcome(Verdict(State.STALLED, "ShareFailed", message), record)
            current.add(account)
        for account in sorted(current - wanted):
            await cloud.client.unshare_image(image_id, account)  # ENS removes one account per call
        record.shared_with = sorted(wanted)
        return observed

    # --- create ------------------------------------------------------------------------------

    def intent(self, p: ImagePass, target: str | None) -> Intent:
        # If we die during ImportImage, the next pass looks for the image by name instead of
        # importing it a second time.
        return Intent(
            record=EnsImageStatus(import_started_at=rfc3339(p.now), image_name=image_name(p.spec, p.view)),
            undo=EnsImageStatus(import_started_at=None),
        )

    async def create(self, p: ImagePass, target: str | None) -> Created:
        name = image_name(p.spec, p.view)
        cloud = await p.cloud()
        image_id = await cloud.single_shot.import_image(import_request(p.spec, name))
        # No snapshot invalidation here: with many imports at once, each would force a new listing
        # for everyone; the new image shows up in a later cycle's snapshot (within the listing lag).
        # The Importing event comes with this verdict (the loop posts one per transition).
        verdict = Verdict(State.PROGRESSING, "Importing", importing_message(image_id, name))
        outcome = Outcome(
            verdict, EnsImageStatus(image_id=image_id, image_status="Creating"), self.intervals.fast
        )
        return Created(record=EnsImageStatus(image_id=image_id), outcome=outcome)

    # --- delete ------------------------------------------------------------------------------

    async def delete(self, p: ImagePass) -> Deletion:
        status = p.status
        if not status.image_id and not status.import_started_at:
            return Deletion(done=True)  # nothing was ever imported
        if status.owner == "others":
            message = f"image {status.image_id} belongs to another account: it is never deleted from here"
            return Deletion(done=True, event=Event("Normal", "Retained", message))
        cloud = await p.cloud()
        started = parse_time(status.deletion_started_at) or p.now
        p.learnt.deletion_started_at = rfc3339(started)
        image_id = status.image_id
        if not image_id:
            intent = parse_time(status.import_started_at)
            settling = self._settling(intent, p.now)
            name = image_name(p.spec, p.view)
            found = await self._recover(name, status, cloud, authoritative=not settling)
            if found is None:
                if not settling:
                    return Deletion(done=True)  # ENS, asked by name after the lag, has none
                # An import was started and its outcome is not known yet: the image it may
                # produce would belong to nobody once the finalizer is gone.
                assert intent is not None
                left = self.listing_lag - (p.now - intent).total_seconds()
                message = f"waiting for the outcome of the import of {name} before deleting"
                verdict = Verdict(State.PROGRESSING, "WaitingForImport", message)
                return Deletion(False, Outcome(verdict), min(max(self.intervals.fast, left), 30.0))
            image_id = found.image_id
            p.learnt.image_id = image_id
        exports = await p.cluster.running_exports(p.view, image_id)
        waited = (p.now - started).total_seconds()
        if exports and waited < self.delete_wait_timeout:
            message = f"waiting for running exports before deleting {image_id}: {', '.join(sorted(exports))}"
            verdict = Verdict(State.PROGRESSING, "WaitingForExports", message)
            return Deletion(False, Outcome(verdict), self.intervals.fast)
        # Every pass asks ENS for this very image by deleting it again until ENS answers NotFound:
        # a listing may lag behind the account, and would call an image gone that is not.
        try:
            if p.spec.shared_with is not None and status.shared_with:
                # Managed shares go first, so no account keeps a share of an image being deleted;
                # recorded as done, so the passes after DeleteImage do not ask for a gone image.
                for account in [account async for account in cloud.client.iter_share_accounts(image_id)]:
                    await cloud.client.unshare_image(image_id, account)
                p.learnt.shared_with = []
            await cloud.client.delete_image(image_id)
        except NotFound:
            gone = "is deleted" if status.deletion_started_at else "was already gone"
            return Deletion(done=True, event=Event("Normal", "Deleted", f"image {image_id} {gone}"))
        # No snapshot invalidation: the next pass asks ENS by id, and nobody else needs to know.
        verdict = Verdict(State.PROGRESSING, "Deleting", f"deleting image {image_id}")
        return Deletion(False, Outcome(verdict), self.intervals.fast)

    def _requeue(self, verdict: Verdict) -> float | None:
        return self.intervals.fast if verdict.state is State.PROGRESSING else None


def _reconciling_since(view: ObjectView) -> datetime | None:
    """When this generation's Reconciling condition turned True, if it is True."""
    for condition in view.status.get("conditions") or ():
        if condition.get("type") != "Reconciling" or condition.get("status") != "True":
            continue
        if view.generation is not None and condition.get("observedGeneration") != view.generation:
            return None
        return parse_time(str(condition.get("lastTransitionTime") or ""))
    return None
