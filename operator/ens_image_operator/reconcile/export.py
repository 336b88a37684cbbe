"""EnsImageExport: wait for the image, call ExportImage once (intent first), follow it to Exported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from ens_image_operator.api.export import EnsImageExportSpec, EnsImageExportStatus
from ens_image_operator.ens.errors import EnsError
from ens_image_operator.ens.models import ExportImageInfo
from ens_image_operator.reconcile.conditions import State, Verdict, parse_time, rfc3339, stalled_at
from ens_image_operator.reconcile.failures import (
    RECHECKED_STALL_REASONS,
    CredentialsProblem,
    is_terminal,
    verdict_for,
)
from ens_image_operator.reconcile.loop import Outcome, is_paused, paused_outcome
from ens_image_operator.reconcile.ports import Cloud, CloudFactory, ObjectHandle, ObjectView
from ens_image_operator.reconcile.timing import Intervals

EXPORTED = "Exported"
EXPORTING = "Exporting"
EXPORT_ERROR = "ExportError"


@dataclass(frozen=True)
class ImageRefState:
    """What the export needs to know about a referenced EnsImage."""

    image_id: str | None
    ready: bool


ImageLookup = Callable[[str, str], Awaitable[ImageRefState | None]]


def export_verdict(info: ExportImageInfo | None, image_id: str) -> Verdict | None:
    """The verdict ENS's export record implies; None when no export is under way."""
    status = info.image_export_status if info is not None else None
    if status == EXPORTED:
        return Verdict(State.READY, "Exported", f"image {image_id} is exported")
    if status == EXPORT_ERROR:
        return Verdict(State.STALLED, "ExportFailed", f"exporting image {image_id} failed (ExportError)")
    if status == EXPORTING:
        return Verdict(State.PROGRESSING, "Exporting", f"image {image_id} is being exported")
    return None


class ExportReconciler:
    """The EnsImageExport driver; deleting an export touches nothing in the cloud."""

    def __init__(self, intervals: Intervals, *, export_timeout: float) -> None:
        self.intervals = intervals
        self.export_timeout = export_timeout

    async def reconcile(
        self,
        view: ObjectView,
        handle: ObjectHandle,
        cloud_factory: CloudFactory,
        lookup_image: ImageLookup,
        now: datetime,
    ) -> Outcome:
        """One pass for an EnsImageExport."""
        if is_paused(view):
            return paused_outcome()
        try:
            spec = EnsImageExportSpec.model_validate(view.spec)
        except ValidationError as error:
            return Outcome(Verdict(State.STALLED, "InvalidSpec", str(error.errors()[0].get("msg"))))
        status = EnsImageExportStatus.model_validate(view.status)
        stalled = stalled_at(view.status.get("conditions"), view.generation)
        if stalled is not None and stalled not in RECHECKED_STALL_REASONS:
            return Outcome(Verdict(State.STALLED, stalled, _stall_message(view)))
        if status.export_status == EXPORTED and status.completed_at:
            verdict = Verdict(State.READY, "Exported", f"image {status.image_id} is exported")
            return Outcome(verdict)
        image_id = spec.image_id
        if image_id is None:
            assert spec.image_ref is not None
            ref = await lookup_image(view.namespace, spec.image_ref.name)
            if ref is None or not ref.ready or not ref.image_id:
                message = f"waiting for EnsImage {spec.image_ref.name} to be Ready"
                return Outcome(
                    Verdict(State.PROGRESSING, "WaitingForImage", message), requeue=self.intervals.fast
                )
            image_id = ref.image_id
        try:
            cloud = await cloud_factory()
        except CredentialsProblem as problem:
            verdict = verdict_for(problem, doing="loading credentials")
            return Outcome(verdict, requeue=self.intervals.credentials_recheck)
        try:
            return await self._progress(view, spec, status, image_id, handle, cloud, now)
        except EnsError as error:
            return self._failed(error, "ENS", cloud)

    async def _progress(
        self,
        view: ObjectView,
        spec: EnsImageExportSpec,
        status: EnsImageExportStatus,
        image_id: str,
        handle: ObjectHandle,
        cloud: Cloud,
        now: datetime,
    ) -> Outcome:
        if status.started_at:
            info = (await cloud.snapshots.export_infos()).get(image_id)
            verdict = export_verdict(info, image_id)
            if verdict is not None:
                return self._observed(verdict, info, status, now)
        else:
            fresh = EnsImageExportStatus.model_validate(await handle.fresh_status())
            if fresh.started_at:  # another pass started it meanwhile
                return Outcome(
                    Verdict(State.PROGRESSING, "Exporting", f"exporting image {image_id}"), requeue=0
                )
        return await self._export(spec, status, image_id, handle, cloud, now)

    def _observed(
        self, verdict: Verdict, info: ExportImageInfo | None, status: EnsImageExportStatus, now: datetime
    ) -> Outcome:
        fields: dict[str, object] = {
            "exportStatus": info.image_export_status if info else None,
            "exportedImageURL": (info.exported_image_url if info else None) or status.exported_image_url,
        }
        if verdict.state is State.READY:
            fields["completedAt"] = status.completed_at or rfc3339(now)
            return Outcome(verdict, fields)
        started = parse_time(status.started_at)
        if (
            verdict.state is State.PROGRESSING
            and started is not None
            and (now - started).total_seconds() > self.export_timeout
        ):
            verdict = Verdict(
                State.STALLED, "ExportTimeout", f"still Exporting after {int(self.export_timeout)}s"
            )
        requeue = self.intervals.fast if verdict.state is State.PROGRESSING else None
        return Outcome(verdict, fields, requeue)

    async def _export(
        self,
        spec: EnsImageExportSpec,
        status: EnsImageExportStatus,
        image_id: str,
        handle: ObjectHandle,
        cloud: Cloud,
        now: datetime,
    ) -> Outcome:
        # ExportImage has no client token: record the intent first, and after a restart trust
        # DescribeExportImageInfo (above) before calling it again.
        started = status.started_at or rfc3339(now)
        await handle.patch_status({"startedAt": started, "imageId": image_id})
        try:
            url = await cloud.single_shot.export_image(
                image_id=image_id,
                oss_bucket=spec.oss_bucket,
                oss_region_id=spec.oss_region_id,
                oss_prefix=spec.oss_prefix,
                role_name=spec.role_name,
            )
        except EnsError as error:
            if is_terminal(error):
                await handle.patch_status({"startedAt": None})
            return self._failed(error, "ExportImage", cloud)
        # Exports are rare, and a stale snapshot would send ExportImage again: list afresh next time.
        cloud.snapshots.invalidate(images=False)
        fields = {"imageId": image_id, "exportStatus": EXPORTING, "exportedImageURL": url or None}
        message = f"image {image_id} is being exported to oss://{spec.oss_bucket}"
        return Outcome(Verdict(State.PROGRESSING, "Exporting", message), fields, self.intervals.fast)

    def _failed(self, error: EnsError, doing: str, cloud: Cloud) -> Outcome:
        verdict = verdict_for(error, doing=doing, source=cloud.source)
        if verdict.state is State.STALLED:
            recheck = verdict.reason in RECHECKED_STALL_REASONS
            return Outcome(verdict, requeue=self.intervals.credentials_recheck if recheck else None)
        return Outcome(verdict, requeue=self.intervals.fast)


def _stall_message(view: ObjectView) -> str:
    for condition in view.status.get("conditions") or ():
        if condition.get("type") == "Stalled":
            return str(condition.get("message", ""))
    return ""
