"""EnsImageExport passes: wait for the image, export once, follow to Exported."""

from __future__ import annotations

from typing import Any

import pytest
from reconcile_fakes import NOW, FakeCluster, FakeEns, FakeObject, cloud_of, view

from ens_image_operator.ens.errors import Invalid
from ens_image_operator.ens.models import ExportImageInfo
from ens_image_operator.reconcile.conditions import State
from ens_image_operator.reconcile.driver import ImageRefState
from ens_image_operator.reconcile.export import ExportDriver
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.reconcile.timing import Intervals

BY_REF = {
    "imageRef": {"name": "web"},
    "ossBucket": "exports",
    "ossRegionId": "cn-beijing",
    "ossPrefix": "web",
}
BY_ID = {"imageId": "m-1", "ossBucket": "exports", "ossRegionId": "cn-beijing"}


@pytest.fixture
def reconciler() -> Reconciler[Any, Any]:
    return Reconciler(ExportDriver(Intervals(fast=1.0, slow=600.0), export_timeout=3600))


async def _pass(
    reconciler: Reconciler[Any, Any],
    obj: FakeObject,
    ens: FakeEns,
    v: ObjectView,
    ref: ImageRefState | None = None,
) -> Any:
    return await Reconciler(reconciler.driver, FakeCluster(ref)).reconcile(v, obj, cloud_of(ens), NOW)


async def test_an_export_waits_for_its_image_to_be_ready(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    outcome = await _pass(reconciler, FakeObject(), ens, view(BY_REF), ImageRefState("m-1", ready=False))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "WaitingForImage")
    assert ens.log == []


async def test_an_export_of_a_ready_image_calls_export_image_with_intent_first(
    reconciler: Reconciler[Any, Any],
) -> None:
    order: list[str] = []
    ens, obj = FakeEns(order), FakeObject(log=order)
    ens.add_image("web")
    outcome = await _pass(reconciler, obj, ens, view(BY_REF), ImageRefState("m-1", ready=True))
    assert order.index("patch:imageId,startedAt") < order.index("ExportImage")
    assert outcome.verdict.reason == "Exporting" and outcome.status["exportedImageURL"].startswith(
        "https://exports"
    )


async def test_an_export_already_started_is_followed_not_repeated(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    ens.exports["m-1"] = ExportImageInfo(image_id="m-1", image_export_status="Exporting")
    status = {"startedAt": "2026-01-01T12:00:00Z", "imageId": "m-1"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(BY_ID, status))
    assert outcome.verdict.reason == "Exporting" and ens.calls("ExportImage") == 0


async def test_an_exported_image_is_ready_with_its_url(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    ens.exports["m-1"] = ExportImageInfo(
        image_id="m-1", image_export_status="Exported", exported_image_url="https://u"
    )
    status = {"startedAt": "2026-01-01T12:00:00Z", "imageId": "m-1"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(BY_ID, status))
    assert outcome.verdict.state is State.READY
    assert outcome.status["exportedImageURL"] == "https://u" and outcome.status["completedAt"]


async def test_an_export_error_stalls(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    ens.exports["m-1"] = ExportImageInfo(image_id="m-1", image_export_status="ExportError")
    status = {"startedAt": "2026-01-01T12:00:00Z", "imageId": "m-1"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(BY_ID, status))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "ExportFailed")


async def test_a_refused_export_stalls_and_clears_the_intent(reconciler: Reconciler[Any, Any]) -> None:
    ens, obj = FakeEns(), FakeObject()
    ens.fail["ExportImage"] = Invalid("OssPrefix.Malformed", request_id="R-5")
    outcome = await _pass(reconciler, obj, ens, view(BY_ID))
    assert outcome.verdict.state is State.STALLED and "startedAt" not in obj.status


async def test_a_completed_export_makes_no_calls(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = {"exportStatus": "Exported", "completedAt": "2026-01-01T12:00:00Z", "imageId": "m-1"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(BY_ID, status))
    assert outcome.verdict.state is State.READY and ens.log == []
