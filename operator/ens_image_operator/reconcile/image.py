"""EnsImage: import from OSS (crash-safe), adopt by id, follow the image's status, delete per policy."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pydantic import ValidationError

from ens_image_operator.api.image import IMAGE_NAME_PATTERN, EnsImageSpec, EnsImageStatus
from ens_image_operator.ens.errors import EnsError, NotFound
from ens_image_operator.ens.models import DiskDeviceMapping, ImportImageRequest, SelfImage
from ens_image_operator.reconcile.conditions import State, Verdict, parse_time, rfc3339, stalled_at
from ens_image_operator.reconcile.failures import (
    RECHECKED_STALL_REASONS,
    CredentialsProblem,
    nothing_created,
    verdict_for,
)
from ens_image_operator.reconcile.loop import Outcome, is_paused, paused_outcome
from ens_image_operator.reconcile.ports import Cloud, CloudFactory, ObjectHandle, ObjectView
from ens_image_operator.reconcile.timing import Intervals

log = logging.getLogger(__name__)

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


def deletion_policy(spec: EnsImageSpec) -> str:
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


def observed_fields(image: SelfImage) -> dict[str, object]:
    """Status fields copied from what ENS reports about the image."""
    return {
        "imageId": image.image_id,
        "imageStatus": image.status,
        "imageSize": str(image.image_size) if image.image_size is not None else None,
        "architecture": image.architecture,
        "platform": image.platform,
        "osVersion": image.os_version,
        "creationTime": image.creation_time,
    }


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


@dataclass(frozen=True)
class DeleteResult:
    """Whether the finalizer may go, and what to show meanwhile."""

    done: bool
    outcome: Outcome | None = None
    retry_after: float | None = None


RunningExports = Callable[[ObjectView, str | None], Awaitable[list[str]]]


class ImageReconciler:
    """The EnsImage driver: observe / create (import) / delete, plus adopt."""

    def __init__(
        self,
        intervals: Intervals,
        *,
        import_timeout: float,
        delete_wait_timeout: float,
        listing_lag: float = 120.0,
    ) -> None:
        self.intervals = intervals
        self.import_timeout = import_timeout
        self.delete_wait_timeout = delete_wait_timeout
        # A new image may stay invisible to DescribeSelfImages (listings and lookups) for this long:
        # inside it, "not found" after an intent means "not yet", never "never".
        self.listing_lag = listing_lag

    # --- the reconcile pass ------------------------------------------------------------------

    async def reconcile(
        self, view: ObjectView, handle: ObjectHandle, cloud_factory: CloudFactory, now: datetime
    ) -> Outcome:
        """One pass for a live (not deleting) EnsImage."""
        if is_paused(view):
            return paused_outcome()
        try:
            spec = EnsImageSpec.model_validate(view.spec)
        except ValidationError as error:
            return Outcome(Verdict(State.STALLED, "InvalidSpec", _first_error(error)))
        stalled = stalled_at(view.status.get("conditions"), view.generation)
        if stalled is not None and stalled not in RECHECKED_STALL_REASONS:
            return Outcome(_unchanged_stall(view))
        try:
            cloud = await cloud_factory()
        except CredentialsProblem as problem:
            return Outcome(verdict_for(problem, doing="loading credentials"), requeue=self._recheck())
        status = EnsImageStatus.model_validate(view.status)
        try:
            if spec.image_id:
                return await self._adopt(spec.image_id, view, cloud, now)
            return await self._imported(view, spec, status, handle, cloud, now)
        except EnsError as error:
            return self._failed(error, "ENS", cloud)

    async def _adopt(self, image_id: str, view: ObjectView, cloud: Cloud, now: datetime) -> Outcome:
        image = await self._by_id(image_id, cloud)
        if image is None:
            since = _reconciling_since(view) or now
            left = self.listing_lag - (now - since).total_seconds()
            if left > 0:
                # A lookup inside the listing lag cannot prove a new image absent: look again.
                message = (
                    f"image {image_id} is not listed in ENS ({cloud.source}) yet; "
                    f"a new image may take up to {int(self.listing_lag)}s to show"
                )
                requeue = max(self.intervals.fast, min(left, 3 * self.intervals.fast))
                return Outcome(Verdict(State.PROGRESSING, "WaitingForImage", message), requeue=requeue)
            return Outcome(
                Verdict(State.STALLED, "NotFound", f"image {image_id} does not exist in ENS ({cloud.source})")
            )
        verdict = image_verdict(image, adopted=True)
        return Outcome(verdict, observed_fields(image), self._requeue(verdict))

    async def _imported(
        self,
        view: ObjectView,
        spec: EnsImageSpec,
        status: EnsImageStatus,
        handle: ObjectHandle,
        cloud: Cloud,
        now: datetime,
    ) -> Outcome:
        name = image_name(spec, view)
        if not _IMAGE_NAME.match(name):
            return Outcome(
                Verdict(
                    State.STALLED,
                    "InvalidImageName",
                    f"{name!r} is not a valid ENS image name: set spec.imageName "
                    "(2-128 characters, starting with a letter)",
                )
            )
        step = import_step(status)
        if step is ImportStep.IMPORT:
            # Another pass may have recorded an intent since this object was read: check the source.
            status = EnsImageStatus.model_validate(await handle.fresh_status())
            step = import_step(status)
        if step is ImportStep.OBSERVE:
            assert status.image_id is not None
            return await self._follow(status.image_id, status, cloud, now)
        if step is ImportStep.RECOVER:
            intent = parse_time(status.import_started_at)
            settling = self._settling(intent, now)
            # While the interrupted call may still surface, the shared snapshot is enough; only the
            # last look before importing again asks ENS by name.
            found = await self._recover(name, status, cloud, authoritative=not settling)
            if found is not None:
                await handle.patch_status({"imageId": found.image_id, "imageName": name})
                handle.event("Normal", "Recovered", f"found image {found.image_id} of an interrupted import")
                verdict = image_verdict(found, adopted=False)
                return Outcome(verdict, observed_fields(found), self._requeue(verdict))
            if settling:
                assert intent is not None
                message = f"an interrupted import of {name} may still appear; looking again before importing"
                # Nothing to learn before the window closes: looking every fast interval would only
                # force listings (and, under faults, retries of them) that cannot change the decision.
                left = self.listing_lag - (now - intent).total_seconds()
                return Outcome(
                    Verdict(State.PROGRESSING, "Importing", message), requeue=max(self.intervals.fast, left)
                )
            # Importing again: first make sure no other pass recorded anything since this view was read.
            fresh = EnsImageStatus.model_validate(await handle.fresh_status())
            if fresh.image_id or fresh.import_started_at != status.import_started_at:
                message = f"the import of {name} was recorded meanwhile"
                return Outcome(Verdict(State.PROGRESSING, "Importing", message), requeue=self.intervals.fast)
        return await self._import(name, spec, handle, cloud, now)

    def _settling(self, intent: datetime | None, now: datetime) -> bool:
        """Whether an image imported at ``intent`` may still be invisible to ENS listings and lookups."""
        return intent is not None and (now - intent).total_seconds() < self.listing_lag

    async def _by_id(self, image_id: str, cloud: Cloud) -> SelfImage | None:
        """The image, from the shared snapshot or, when it is not there, from ENS directly.

        The snapshot may predate the image: only a lookup made now may call it absent.
        """
        image = (await cloud.snapshots.self_images()).get(image_id)
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

    async def _import(
        self, name: str, spec: EnsImageSpec, handle: ObjectHandle, cloud: Cloud, now: datetime
    ) -> Outcome:
        # The intent goes to the API server before the call: if we die during ImportImage, the next
        # pass looks for the image by name instead of importing it a second time. The write is
        # conditional on the object as last read: if anyone wrote since (or deleted the object), it
        # raises and the pass ends without calling ENS.
        await handle.claim_status({"importStartedAt": rfc3339(now), "imageName": name})
        try:
            image_id = await cloud.single_shot.import_image(import_request(spec, name))
        except EnsError as error:
            if nothing_created(error):
                # Refused before anything was created: the next attempt may import afresh. Any
                # other failure may have created the image, so the intent stays for recovery.
                await handle.patch_status({"importStartedAt": None})
            return self._failed(error, "ImportImage", cloud)
        # No snapshot invalidation here: with many imports at once, each would force a new listing
        # for everyone; the new image shows up in a later cycle's snapshot (within the listing lag).
        await handle.patch_status({"imageId": image_id})
        # The Importing event comes with this verdict (the loop posts one per transition).
        verdict = Verdict(State.PROGRESSING, "Importing", f"image {image_id} ({name}) is being imported")
        return Outcome(verdict, {"imageId": image_id, "imageStatus": "Creating"}, self.intervals.fast)

    async def _follow(self, image_id: str, status: EnsImageStatus, cloud: Cloud, now: datetime) -> Outcome:
        started = parse_time(status.import_started_at)
        if self._settling(started, now):
            # A lookup could not prove the new image absent yet: the snapshot is enough meanwhile.
            image = (await cloud.snapshots.self_images()).get(image_id)
        else:
            image = await self._by_id(image_id, cloud)
        if image is None:
            if self._settling(started, now):
                verdict = Verdict(State.PROGRESSING, "Importing", f"waiting for image {image_id} to appear")
                return Outcome(verdict, requeue=self.intervals.fast)
            return Outcome(
                Verdict(
                    State.STALLED,
                    "NotFound",
                    f"image {image_id} no longer exists in ENS: delete this EnsImage and create it again",
                )
            )
        verdict = image_verdict(image, adopted=False)
        if (
            verdict.state is State.PROGRESSING
            and started is not None
            and (now - started).total_seconds() > self.import_timeout
        ):
            verdict = Verdict(
                State.STALLED,
                "ImportTimeout",
                f"image {image_id} is still {image.status} after {int(self.import_timeout)}s",
            )
        return Outcome(verdict, observed_fields(image), self._requeue(verdict))

    # --- deletion ----------------------------------------------------------------------------

    async def delete(
        self,
        view: ObjectView,
        handle: ObjectHandle,
        cloud_factory: CloudFactory,
        running_exports: RunningExports,
        now: datetime,
    ) -> DeleteResult:
        """One pass of deleting an EnsImage; ``done`` means the finalizer may be removed."""
        try:
            spec = EnsImageSpec.model_validate(view.spec)
        except ValidationError:
            return DeleteResult(done=True)  # never managed anything: nothing to clean up
        if deletion_policy(spec) == "Retain":
            handle.event("Normal", "Retained", "deletionPolicy is Retain: the ENS image is kept")
            return DeleteResult(done=True)
        if is_paused(view):
            return DeleteResult(False, paused_outcome(), self.intervals.credentials_recheck)
        # The delivered body may predate what the last pass wrote (an intent, a fresh imageId): the
        # decision is made from the status as stored now.
        status = EnsImageStatus.model_validate((await handle.fresh_status()) or view.status)
        if not status.image_id and not status.import_started_at:
            return DeleteResult(done=True)  # nothing was ever imported
        try:
            cloud = await cloud_factory()
        except CredentialsProblem as problem:
            verdict = verdict_for(problem, doing="loading credentials")
            return DeleteResult(False, Outcome(verdict), self.intervals.credentials_recheck)
        started = parse_time(status.deletion_started_at) or now
        fields: dict[str, object] = {"deletionStartedAt": rfc3339(started)}
        try:
            image_id = status.image_id
            if not image_id:
                intent = parse_time(status.import_started_at)
                settling = self._settling(intent, now)
                name = image_name(spec, view)
                found = await self._recover(name, status, cloud, authoritative=not settling)
                if found is None:
                    if not settling:
                        return DeleteResult(done=True)  # ENS, asked by name after the lag, has none
                    # An import was started and its outcome is not known yet: the image it may
                    # produce would belong to nobody once the finalizer is gone.
                    assert intent is not None
                    left = self.listing_lag - (now - intent).total_seconds()
                    message = f"waiting for the outcome of the import of {name} before deleting"
                    verdict = Verdict(State.PROGRESSING, "WaitingForImport", message)
                    retry = min(max(self.intervals.fast, left), 30.0)
                    return DeleteResult(False, Outcome(verdict, fields), retry)
                image_id = found.image_id
                fields["imageId"] = image_id
            exports = await running_exports(view, image_id)
            waited = (now - started).total_seconds()
            if exports and waited < self.delete_wait_timeout:
                message = (
                    f"waiting for running exports before deleting {image_id}: {', '.join(sorted(exports))}"
                )
                verdict = Verdict(State.PROGRESSING, "WaitingForExports", message)
                return DeleteResult(False, Outcome(verdict, fields), self.intervals.fast)
            # Every pass asks ENS for this very image by deleting it again until ENS answers
            # NotFound: a listing may lag behind the account, and would call an image gone that is not.
            try:
                await cloud.client.delete_image(image_id)
            except NotFound:
                gone = "is deleted" if status.deletion_started_at else "was already gone"
                handle.event("Normal", "Deleted", f"image {image_id} {gone}")
                return DeleteResult(done=True)
            # No snapshot invalidation: the next pass asks ENS by id, and nobody else needs to know.
        except EnsError as error:
            outcome = self._failed(error, "DeleteImage", cloud)
            outcome.status.update(fields)
            return DeleteResult(False, outcome, outcome.requeue or self.intervals.credentials_recheck)
        verdict = Verdict(State.PROGRESSING, "Deleting", f"deleting image {image_id}")
        return DeleteResult(False, Outcome(verdict, fields), self.intervals.fast)

    # --- helpers -----------------------------------------------------------------------------

    def _requeue(self, verdict: Verdict) -> float | None:
        return self.intervals.fast if verdict.state is State.PROGRESSING else None

    def _recheck(self) -> float:
        return self.intervals.credentials_recheck

    def _failed(self, error: EnsError, doing: str, cloud: Cloud) -> Outcome:
        verdict = verdict_for(error, doing=doing, source=cloud.source)
        if verdict.state is State.STALLED:
            recheck = verdict.reason in RECHECKED_STALL_REASONS
            return Outcome(verdict, requeue=self._recheck() if recheck else None)
        return Outcome(verdict, requeue=self.intervals.fast)


def _reconciling_since(view: ObjectView) -> datetime | None:
    """When this generation's Reconciling condition turned True, if it is True."""
    for condition in view.status.get("conditions") or ():
        if condition.get("type") != "Reconciling" or condition.get("status") != "True":
            continue
        if view.generation is not None and condition.get("observedGeneration") != view.generation:
            return None
        return parse_time(str(condition.get("lastTransitionTime") or ""))
    return None


def _unchanged_stall(view: ObjectView) -> Verdict:
    for condition in view.status.get("conditions") or ():
        if condition.get("type") == "Stalled":
            return Verdict(State.STALLED, str(condition.get("reason")), str(condition.get("message", "")))
    return Verdict(State.STALLED, "Stalled")


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg')}"
