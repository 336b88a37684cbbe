"""EnsImageCatalog: list the public images (DescribeImageInfos) every refreshInterval."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from ens_image_operator.api.catalog import CatalogImage, EnsImageCatalogSpec
from ens_image_operator.ens.errors import EnsError
from ens_image_operator.ens.models import ImageInfo
from ens_image_operator.reconcile.conditions import State, Verdict, parse_time, rfc3339
from ens_image_operator.reconcile.failures import CredentialsProblem, verdict_for
from ens_image_operator.reconcile.loop import Outcome, is_paused, paused_outcome
from ens_image_operator.reconcile.ports import CloudFactory, ObjectView
from ens_image_operator.reconcile.timing import Intervals, parse_duration

MIN_REFRESH = 1.0  # seconds; a smaller interval would only hammer the API


def refresh_due(view: ObjectView, interval: float, now: datetime) -> float:
    """Seconds until the next refresh is due (0 or less: now)."""
    if view.generation is not None and view.status.get("observedGeneration") != view.generation:
        return 0.0
    last = parse_time(view.status.get("lastRefreshTime"))
    if last is None:
        return 0.0
    return interval - (now - last).total_seconds()


def catalog_entry(info: ImageInfo) -> dict[str, object]:
    """One image of the list, as the status shows it."""
    return CatalogImage(
        image_id=info.image_id,
        os_name=info.os_name,
        os_type=info.os_type,
        image_version=info.image_version,
        image_size=str(info.image_size) if info.image_size is not None else None,
        compute_type=info.compute_type,
        region_id=info.region_id,
        description=info.description,
    ).to_wire()


class CatalogReconciler:
    """The EnsImageCatalog driver: observe only."""

    def __init__(self, intervals: Intervals) -> None:
        self.intervals = intervals

    async def reconcile(self, view: ObjectView, cloud_factory: CloudFactory, now: datetime) -> Outcome | None:
        """One pass; None when the list is still fresh and nothing needs writing."""
        if is_paused(view):
            return paused_outcome()
        try:
            spec = EnsImageCatalogSpec.model_validate(view.spec)
            interval = max(MIN_REFRESH, parse_duration(spec.refresh_interval))
        except (ValidationError, ValueError) as error:
            return Outcome(Verdict(State.STALLED, "InvalidSpec", f"spec: {error}"))
        wait = refresh_due(view, interval, now)
        if wait > 0 and view.status.get("conditions"):
            return None
        try:
            cloud = await cloud_factory()
        except CredentialsProblem as problem:
            return Outcome(
                verdict_for(problem, doing="loading credentials"), requeue=self.intervals.credentials_recheck
            )
        try:
            infos = await cloud.client.describe_image_infos(spec.os_type)
        except EnsError as error:
            verdict = verdict_for(error, doing="DescribeImageInfos", source=cloud.source)
            retry = (
                self.intervals.fast
                if verdict.state is State.PROGRESSING
                else self.intervals.credentials_recheck
            )
            return Outcome(verdict, requeue=retry)
        # The filter is applied here too, so the list is right even if the API ignored OsType.
        images = [
            catalog_entry(info) for info in infos if spec.os_type is None or info.os_type == spec.os_type
        ]
        fields: dict[str, object] = {
            "images": images,
            "imageCount": len(images),
            "lastRefreshTime": rfc3339(now),
        }
        verdict = Verdict(State.READY, "Loaded", f"{len(images)} public images listed")
        return Outcome(verdict, fields, interval)
