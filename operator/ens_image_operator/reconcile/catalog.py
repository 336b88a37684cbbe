"""EnsImageCatalog: list the public images (DescribeImageInfos) every refreshInterval."""

from __future__ import annotations

from datetime import datetime

from ens_image_operator.api.catalog import CatalogImage, EnsImageCatalogSpec, EnsImageCatalogStatus
from ens_image_operator.ens.models import ImageInfo
from ens_image_operator.reconcile.conditions import State, Verdict, parse_time, rfc3339
from ens_image_operator.reconcile.driver import Driver, Observation, Outcome, Pass
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.reconcile.timing import parse_duration

MIN_REFRESH = 1.0  # seconds; a smaller interval would only hammer the API


def refresh_due(view: ObjectView, interval: float, now: datetime) -> float:
    """Seconds until the next refresh is due (0 or less: now)."""
    if view.generation is not None and view.status.get("observedGeneration") != view.generation:
        return 0.0
    last = parse_time(view.status.get("lastRefreshTime"))
    if last is None:
        return 0.0
    return interval - (now - last).total_seconds()


def catalog_entry(info: ImageInfo) -> CatalogImage:
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
    )


CatalogPass = Pass[EnsImageCatalogSpec, EnsImageCatalogStatus]


def refresh_interval(spec: EnsImageCatalogSpec) -> float:
    """Seconds between two listings; raises ValueError for a malformed duration."""
    return max(MIN_REFRESH, parse_duration(spec.refresh_interval))


class CatalogDriver(Driver[EnsImageCatalogSpec, EnsImageCatalogStatus]):
    """EnsImageCatalog: observe only, every refreshInterval."""

    spec_model = EnsImageCatalogSpec
    status_model = EnsImageCatalogStatus
    observing = "DescribeImageInfos"

    def check(self, p: CatalogPass) -> Verdict | None:
        try:
            refresh_interval(p.spec)
        except ValueError as error:
            return Verdict(State.STALLED, "InvalidSpec", f"spec.refreshInterval: {error}")
        return None

    async def observe(self, p: CatalogPass) -> Observation:
        interval = refresh_interval(p.spec)
        if refresh_due(p.view, interval, p.now) > 0 and p.view.status.get("conditions"):
            return Observation()  # still fresh: nothing to call, nothing to write
        infos = await (await p.cloud()).client.describe_image_infos(p.spec.os_type)
        # The filter is applied here too, so the list is right even if the API ignored OsType.
        os_type = p.spec.os_type
        images = [catalog_entry(info) for info in infos if os_type is None or info.os_type == os_type]
        record = EnsImageCatalogStatus(
            images=images, image_count=len(images), last_refresh_time=rfc3339(p.now)
        )
        verdict = Verdict(State.READY, "Loaded", f"{len(images)} public images listed")
        return Observation(Outcome(verdict, record, interval))
