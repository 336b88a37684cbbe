"""Deleting an EnsImage: per deletionPolicy, waiting for exports, NotFound counts as deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from reconcile_fakes import IMPORT_SPEC, NOW, FakeCluster, FakeEns, FakeObject, cloud_of, view

from ens_image_operator.ens.errors import Denied
from ens_image_operator.reconcile.conditions import State
from ens_image_operator.reconcile.driver import Deletion
from ens_image_operator.reconcile.image import ImageDriver
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.reconcile.timing import Intervals


@pytest.fixture
def reconciler() -> Reconciler[Any, Any]:
    return Reconciler(
        ImageDriver(Intervals(fast=1.0, slow=600.0), import_timeout=3600, delete_wait_timeout=60)
    )


async def _delete(
    reconciler: Reconciler[Any, Any],
    ens: FakeEns,
    v: ObjectView,
    exports: list[str] | None = None,
    now: Any = NOW,
) -> Deletion:
    deleting = Reconciler(reconciler.driver, FakeCluster(exports=exports))
    return await deleting.delete(v, FakeObject(v.status), cloud_of(ens), now)


async def test_delete_policy_deletes_the_image_then_waits_until_it_is_gone(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    v = view(IMPORT_SPEC, {"imageId": image_id}, deleting=True)
    first = await _delete(reconciler, ens, v)
    assert not first.done and first.outcome is not None and first.outcome.verdict.reason == "Deleting"
    assert ens.calls("DeleteImage") == 1
    assert (await _delete(reconciler, ens, v)).done


async def test_the_first_deletion_pass_deletes_without_waiting_for_a_listing(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    await _delete(reconciler, ens, view(IMPORT_SPEC, {"imageId": image_id}, deleting=True))
    assert (ens.calls("snapshot"), ens.calls("DeleteImage")) == (0, 1)


async def test_retain_policy_releases_without_any_call(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    v = view({**IMPORT_SPEC, "deletionPolicy": "Retain"}, {"imageId": image_id}, deleting=True)
    assert (await _delete(reconciler, ens, v)).done
    assert ens.log == [] and image_id in ens.images


async def test_adopted_images_are_retained_by_default(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("legacy")
    assert (
        await _delete(reconciler, ens, view({"imageId": image_id}, {"imageId": image_id}, deleting=True))
    ).done
    assert image_id in ens.images


async def test_an_image_already_gone_counts_as_deleted(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    assert (await _delete(reconciler, ens, view(IMPORT_SPEC, {"imageId": "m-gone"}, deleting=True))).done


async def test_deletion_waits_for_running_exports(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    result = await _delete(
        reconciler, ens, view(IMPORT_SPEC, {"imageId": image_id}, deleting=True), ["default/exp"]
    )
    assert not result.done and result.outcome is not None
    assert result.outcome.verdict.reason == "WaitingForExports" and ens.calls("DeleteImage") == 0


async def test_deletion_stops_waiting_for_exports_after_the_timeout(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    started = {"imageId": image_id, "deletionStartedAt": "2026-01-01T12:00:00Z"}
    later = NOW + timedelta(seconds=61)
    await _delete(reconciler, ens, view(IMPORT_SPEC, started, deleting=True), ["default/exp"], later)
    assert ens.calls("DeleteImage") == 1


async def test_an_interrupted_import_is_found_by_name_and_deleted(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    ens.add_image("web", "Creating")
    v = view(IMPORT_SPEC, {"importStartedAt": "2026-01-01T12:00:00Z"}, deleting=True)
    await _delete(reconciler, ens, v)
    assert ens.images == {}


async def test_nothing_imported_means_nothing_to_delete(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    assert (await _delete(reconciler, ens, view(IMPORT_SPEC, {}, deleting=True))).done and ens.log == []


async def test_refused_deletion_stalls_and_keeps_the_finalizer(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    ens.fail["DeleteImage"] = Denied("Forbidden.RAM", request_id="R-3")
    result = await _delete(reconciler, ens, view(IMPORT_SPEC, {"imageId": image_id}, deleting=True))
    assert not result.done and result.outcome is not None
    assert result.outcome.verdict.state is State.STALLED and result.retry_after


async def test_a_paused_object_is_not_deleted_in_the_cloud(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    paused = view(
        IMPORT_SPEC,
        {"imageId": image_id},
        annotations={"ens.image-operator.io/paused": "true"},
        deleting=True,
    )
    result = await _delete(reconciler, ens, paused)
    assert not result.done and ens.log == []
