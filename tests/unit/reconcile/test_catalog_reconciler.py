"""EnsImageCatalog passes: filtered by OS type, refreshed only when due."""

from __future__ import annotations

from datetime import timedelta

from reconcile_fakes import NOW, FakeEns, FakeObject, cloud_of, view

from ens_image_operator.ens.models import ImageInfo
from ens_image_operator.reconcile.catalog import CatalogDriver
from ens_image_operator.reconcile.conditions import State, Verdict, build
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.timing import Intervals

RECONCILER = Reconciler(CatalogDriver(Intervals(fast=1.0, slow=600.0)))


def _account() -> FakeEns:
    ens = FakeEns()
    ens.public = [
        ImageInfo(image_id="centos_7", os_type="linux", os_name="CentOS"),
        ImageInfo(image_id="win2019", os_type="windows", os_name="Windows Server"),
    ]
    return ens


async def test_catalog_lists_every_public_image() -> None:
    outcome = await RECONCILER.reconcile(
        view({"refreshInterval": "1h"}), FakeObject(), cloud_of(_account()), NOW
    )
    assert outcome is not None and outcome.verdict.state is State.READY
    assert outcome.status["imageCount"] == 2


async def test_catalog_is_filtered_by_os_type() -> None:
    outcome = await RECONCILER.reconcile(view({"osType": "windows"}), FakeObject(), cloud_of(_account()), NOW)
    assert outcome is not None
    assert [image["imageId"] for image in outcome.status["images"]] == ["win2019"]


async def test_a_fresh_catalog_is_not_refreshed() -> None:
    ens = _account()
    conds = build(Verdict(State.READY, "Loaded"), None, generation=1, now=NOW)
    status = {"lastRefreshTime": "2026-01-01T12:00:00Z", "observedGeneration": 1, "conditions": conds}
    v = view({"refreshInterval": "1h"}, status)
    assert await RECONCILER.reconcile(v, FakeObject(), cloud_of(ens), NOW + timedelta(minutes=30)) is None
    assert ens.log == []


async def test_a_catalog_is_refreshed_once_its_interval_passed() -> None:
    ens = _account()
    conds = build(Verdict(State.READY, "Loaded"), None, generation=1, now=NOW)
    status = {"lastRefreshTime": "2026-01-01T12:00:00Z", "observedGeneration": 1, "conditions": conds}
    v = view({"refreshInterval": "1h"}, status)
    assert await RECONCILER.reconcile(v, FakeObject(), cloud_of(ens), NOW + timedelta(minutes=61)) is not None
    assert ens.calls("DescribeImageInfos") == 1
