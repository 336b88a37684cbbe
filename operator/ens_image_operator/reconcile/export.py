"""The EnsImageExport driver: wait for the image, call ExportImage once (intent first), follow it."""

from __future__ import annotations

from ens_image_operator.api.export import EnsImageExportSpec, EnsImageExportStatus
from ens_image_operator.ens.models import ExportImageInfo
from ens_image_operator.reconcile.conditions import State, Verdict, parse_time, rfc3339
from ens_image_operator.reconcile.driver import Created, Driver, Intent, Observation, Outcome, Pass
from ens_image_operator.reconcile.timing import Intervals

EXPORTED = "Exported"
EXPORTING = "Exporting"
EXPORT_ERROR = "ExportError"


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


ExportPass = Pass[EnsImageExportSpec, EnsImageExportStatus]


class ExportDriver(Driver[EnsImageExportSpec, EnsImageExportStatus]):
    """EnsImageExport: observe the export record, create (ExportImage); deleting touches nothing."""

    spec_model = EnsImageExportSpec
    status_model = EnsImageExportStatus
    intent_fields = ("started_at",)
    creating = "ExportImage"

    def __init__(self, intervals: Intervals, *, export_timeout: float) -> None:
        super().__init__(intervals)
        self.export_timeout = export_timeout

    async def observe(self, p: ExportPass) -> Observation:
        status = p.status
        if status.export_status == EXPORTED and status.completed_at:
            return Observation(
                Outcome(Verdict(State.READY, "Exported", f"image {status.image_id} is exported"))
            )
        image_id = p.spec.image_id
        if image_id is None:
            assert p.spec.image_ref is not None
            ref = await p.cluster.image(p.view.namespace, p.spec.image_ref.name)
            if ref is None or not ref.ready or not ref.image_id:
                return Observation(
                    self.waiting(
                        "WaitingForImage", f"waiting for EnsImage {p.spec.image_ref.name} to be Ready"
                    )
                )
            image_id = ref.image_id
        cloud = await p.cloud()
        if status.started_at:
            # ExportImage has no client token: after a restart, DescribeExportImageInfo is asked
            # before calling it again.
            info = (await cloud.snapshots.export_infos()).get(image_id)
            verdict = export_verdict(info, image_id)
            if verdict is not None:
                return Observation(self._observed(verdict, info, status, p))
        return Observation.absent(target=image_id)

    def _observed(
        self, verdict: Verdict, info: ExportImageInfo | None, status: EnsImageExportStatus, p: ExportPass
    ) -> Outcome:
        record = EnsImageExportStatus(
            export_status=info.image_export_status if info else None,
            exported_image_url=(info.exported_image_url if info else None) or status.exported_image_url,
        )
        if verdict.state is State.READY:
            record.completed_at = status.completed_at or rfc3339(p.now)
            return Outcome(verdict, record)
        started = parse_time(status.started_at)
        if (
            verdict.state is State.PROGRESSING
            and started is not None
            and (p.now - started).total_seconds() > self.export_timeout
        ):
            verdict = Verdict(
                State.STALLED, "ExportTimeout", f"still Exporting after {int(self.export_timeout)}s"
            )
        requeue = self.intervals.fast if verdict.state is State.PROGRESSING else None
        return Outcome(verdict, record, requeue)

    def intent(self, p: ExportPass, target: str | None) -> Intent:
        return Intent(
            record=EnsImageExportStatus(started_at=p.status.started_at or rfc3339(p.now), image_id=target),
            undo=EnsImageExportStatus(started_at=None),
        )

    async def create(self, p: ExportPass, target: str | None) -> Created:
        assert target is not None
        cloud = await p.cloud()
        url = await cloud.single_shot.export_image(
            image_id=target,
            oss_bucket=p.spec.oss_bucket,
            oss_region_id=p.spec.oss_region_id,
            oss_prefix=p.spec.oss_prefix,
            role_name=p.spec.role_name,
        )
        # Exports are rare, and a stale snapshot would send ExportImage again: list afresh next time.
        cloud.snapshots.invalidate(images=False)
        record = EnsImageExportStatus(
            image_id=target, export_status=EXPORTING, exported_image_url=url or None
        )
        message = f"image {target} is being exported to oss://{p.spec.oss_bucket}"
        outcome = Outcome(Verdict(State.PROGRESSING, "Exporting", message), record, self.intervals.fast)
        return Created(record=EnsImageExportStatus(image_id=target), outcome=outcome)
