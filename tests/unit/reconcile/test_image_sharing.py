"""spec.sharedWith: the share list converges to exactly that set; shared-to-us images are observed only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from reconcile_fakes import IMPORT_SPEC, NOW, FakeEns, FakeObject, cloud_of, view

from ens_image_operator.ens.errors import Throttled
from ens_image_operator.reconcile.conditions import State, Verdict, build
from ens_image_operator.reconcile.image import ImageDriver
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.timing import Intervals

LAG = 120.0


@pytest.fixture
def reconciler() -> Reconciler[Any, Any]:
    driver = ImageDriver(Intervals(fast=1.0, slow=600.0), import_timeout=3600, delete_wait_timeout=60)
    return Reconciler(driver)


def _imported(ens: FakeEns, status: str = "Available") -> dict[str, Any]:
    image_id = ens.add_image("web", status)
    return {"imageId": image_id, "importStartedAt": "2026-01-01T11:00:00Z", "imageName": "web"}


async def _pass(reconciler: Reconciler[Any, Any], ens: FakeEns, spec: dict[str, Any], status: Any) -> Any:
    return await reconciler.reconcile(view(spec, status), FakeObject(status), cloud_of(ens), NOW)


async def test_a_ready_image_is_shared_with_exactly_the_listed_accounts(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    status = _imported(ens)
    outcome = await _pass(reconciler, ens, {**IMPORT_SPEC, "sharedWith": ["111", "222"]}, status)
    assert ens.shares[status["imageId"]] == {"111", "222"}
    assert (outcome.verdict.state, outcome.status["sharedWith"]) == (State.READY, ["111", "222"])


async def test_shares_changed_outside_are_undone(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = _imported(ens)
    ens.shares[status["imageId"]] = {"111", "333"}  # 222 removed and 333 added in the console
    await _pass(reconciler, ens, {**IMPORT_SPEC, "sharedWith": ["111", "222"]}, status)
    assert ens.shares[status["imageId"]] == {"111", "222"}
    assert "unshare:333" in ens.log and "share:222" in ens.log


async def test_an_empty_list_unshares_every_account(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = _imported(ens)
    ens.shares[status["imageId"]] = {"111", "222"}
    outcome = await _pass(reconciler, ens, {**IMPORT_SPEC, "sharedWith": []}, status)
    assert ens.shares[status["imageId"]] == set() and outcome.status["sharedWith"] == []


async def test_without_the_field_shares_are_left_as_they_are(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = {**_imported(ens), "sharedWith": ["111"]}
    ens.shares[status["imageId"]] = {"111"}
    outcome = await _pass(reconciler, ens, IMPORT_SPEC, status)
    assert ens.shares[status["imageId"]] == {"111"}
    assert "DescribeImageSharePermission" not in ens.log
    assert outcome.status["sharedWith"] is None  # no longer managed: the status stops showing it


async def test_an_unknown_account_stalls_naming_it_and_keeps_the_others(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    status = _imported(ens)
    outcome = await _pass(reconciler, ens, {**IMPORT_SPEC, "sharedWith": ["111", "999"]}, status)
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "ShareFailed")
    assert "999" in outcome.verdict.message and "spec.sharedWith" in outcome.verdict.message
    assert ens.shares[status["imageId"]] == {"111"}


async def test_a_throttled_share_is_retried(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = _imported(ens)
    ens.fail["ModifyImageSharePermission"] = Throttled("Throttling.User", http_status=400)
    outcome = await _pass(reconciler, ens, {**IMPORT_SPEC, "sharedWith": ["111"]}, status)
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "Throttled")


async def test_an_image_still_importing_is_not_shared_yet(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = _imported(ens, "Creating")
    await _pass(reconciler, ens, {**IMPORT_SPEC, "sharedWith": ["111"]}, status)
    assert "DescribeImageSharePermission" not in ens.log and ens.shares == {}


async def test_an_image_shared_with_us_is_ready_and_owned_by_others(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("golden", owner="others")
    outcome = await _pass(reconciler, ens, {"imageId": image_id}, {})
    assert (outcome.verdict.state, outcome.status["owner"]) == (State.READY, "others")


async def test_an_image_shared_with_us_is_never_shared_onward(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("golden", owner="others")
    outcome = await _pass(reconciler, ens, {"imageId": image_id, "sharedWith": ["111"]}, {})
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "NotImageOwner")
    assert "ModifyImageSharePermission" not in ens.log and "spec.sharedWith" in outcome.verdict.message


async def test_a_withdrawn_share_stalls_saying_so(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    waiting = build(Verdict(State.PROGRESSING, "WaitingForImage"), None, generation=1, now=NOW)
    status = {"imageId": "m-7", "owner": "others", "conditions": waiting}
    later = NOW + timedelta(seconds=LAG + 1)
    outcome = await reconciler.reconcile(
        view({"imageId": "m-7"}, status), FakeObject(status), cloud_of(ens), later
    )
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "ShareWithdrawn")


async def test_an_image_of_another_account_is_never_deleted(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("golden", owner="others")
    status = {"imageId": image_id, "owner": "others"}
    obj = FakeObject(status)
    spec = {"imageId": image_id, "deletionPolicy": "Delete"}
    deletion = await reconciler.delete(view(spec, status, deleting=True), obj, cloud_of(ens), NOW)
    assert deletion.done and "DeleteImage" not in ens.log and obj.event_reasons == ["Retained"]


async def test_deleting_an_image_unshares_its_managed_shares_first(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = {**_imported(ens), "sharedWith": ["111"]}
    ens.shares[status["imageId"]] = {"111"}
    spec = {**IMPORT_SPEC, "sharedWith": ["111"]}
    deletion = await reconciler.delete(
        view(spec, status, deleting=True), FakeObject(status), cloud_of(ens), NOW
    )
    assert ens.log.index("unshare:111") < ens.log.index("DeleteImage")
    assert deletion.outcome is not None and deletion.outcome.status["sharedWith"] == []


async def test_the_passes_after_delete_image_ask_nothing_of_the_gone_image_but_delete_image(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    status = {**_imported(ens), "sharedWith": [], "deletionStartedAt": "2026-01-01T12:00:00Z"}
    del ens.images[status["imageId"]]  # the first pass's DeleteImage took effect
    spec = {**IMPORT_SPEC, "sharedWith": ["111"]}
    deletion = await reconciler.delete(
        view(spec, status, deleting=True), FakeObject(status), cloud_of(ens), NOW
    )
    assert deletion.done and ens.log == ["DeleteImage"]
