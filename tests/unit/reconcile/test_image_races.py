"""Races with a lagging cloud and other writers: absence is proven, deletion waits for imports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from reconcile_fakes import IMPORT_SPEC, NOW, FakeEns, FakeObject, cloud_of, view

from ens_image_operator.reconcile.conditions import State, Verdict, build, rfc3339
from ens_image_operator.reconcile.driver import Deletion
from ens_image_operator.reconcile.image import ImageDriver
from ens_image_operator.reconcile.loop import Reconciler
from ens_image_operator.reconcile.ports import ObjectChanged, ObjectGone, ObjectView
from ens_image_operator.reconcile.timing import Intervals
from ens_image_operator.settings import Settings

LAG = Settings().listing_lag
INTENT = rfc3339(NOW)
FRESH = NOW + timedelta(seconds=5)  # well inside the listing lag
SETTLED = NOW + timedelta(seconds=LAG + 1)


@pytest.fixture
def reconciler() -> Reconciler[Any, Any]:
    return Reconciler(
        ImageDriver(
            Intervals(fast=1.0, slow=600.0), import_timeout=3600, delete_wait_timeout=60, listing_lag=LAG
        )
    )


async def _pass(
    reconciler: Reconciler[Any, Any], obj: FakeObject, ens: FakeEns, v: ObjectView, now: Any = NOW
) -> Any:
    return await reconciler.reconcile(v, obj, cloud_of(ens), now)


async def _delete(
    reconciler: Reconciler[Any, Any], obj: FakeObject, ens: FakeEns, v: ObjectView, now: Any = NOW
) -> Deletion:
    return await reconciler.delete(v, obj, cloud_of(ens), now)


# --- 1. absence is proven by asking ENS, never by a shared snapshot ---------------------------


async def test_an_image_adopted_right_after_its_creation_is_found_by_asking_ens(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    ens.listed = {}  # the shared listing was taken before the image existed
    image_id = ens.add_image("fresh", "Available")
    outcome = await _pass(reconciler, FakeObject(), ens, view({"imageId": image_id}))
    assert outcome.verdict.state is State.READY


def _looking_since(moment: Any) -> dict[str, Any]:
    """A status whose Reconciling condition turned True at ``moment`` (generation 1)."""
    conditions = build(Verdict(State.PROGRESSING, "WaitingForImage"), None, generation=1, now=moment)
    return {"conditions": conditions, "observedGeneration": 1}


async def test_an_adopted_image_not_found_inside_the_listing_lag_is_waited_for(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    outcome = await _pass(reconciler, FakeObject(), ens, view({"imageId": "m-new"}))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "WaitingForImage")


async def test_an_adopted_image_is_not_found_only_after_the_lag_and_a_lookup_by_id(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    status = _looking_since(NOW)
    outcome = await _pass(reconciler, FakeObject(status), ens, view({"imageId": "m-404"}, status), SETTLED)
    assert (outcome.verdict.reason, ens.calls("DescribeSelfImages")) == ("NotFound", 1)


async def test_an_adopted_image_that_shows_late_becomes_ready(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    status = _looking_since(NOW)
    image_id = ens.add_image("late", "Available")
    outcome = await _pass(reconciler, FakeObject(status), ens, view({"imageId": image_id}, status), FRESH)
    assert outcome.verdict.state is State.READY


async def test_a_followed_image_missing_from_a_stale_listing_is_not_called_gone(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web", "Available")
    ens.listed = {}
    status = {"imageId": image_id, "importStartedAt": INTENT}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(IMPORT_SPEC, status), SETTLED)
    assert outcome.verdict.state is State.READY


async def test_recovery_that_finds_nothing_listed_asks_by_name_before_importing_again(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    ens.add_image("web", "Creating", created=INTENT)
    ens.listed = {}
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), SETTLED)
    assert ens.calls("ImportImage") == 0 and obj.status["imageId"] == "m-1"


async def test_deletion_does_not_trust_a_stale_listing_that_lacks_the_image(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web")
    ens.listed = {}
    status = {"imageId": image_id, "deletionStartedAt": INTENT}
    result = await _delete(reconciler, FakeObject(status), ens, view(IMPORT_SPEC, status, deleting=True))
    assert not result.done and ens.images == {}


# --- 2. the finalizer stays while an import may still produce an image ------------------------


async def test_deletion_reads_the_latest_written_status_not_the_delivered_body(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web", "Creating")
    written = FakeObject({"imageId": image_id, "importStartedAt": INTENT})
    await _delete(reconciler, written, ens, view(IMPORT_SPEC, {}, deleting=True), FRESH)
    assert ens.calls("DeleteImage") == 1 and ens.images == {}


async def test_deletion_with_an_intent_and_no_id_waits_for_the_import(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    result = await _delete(reconciler, obj, ens, view(IMPORT_SPEC, obj.status, deleting=True), FRESH)
    assert not result.done and result.outcome is not None
    verdict = result.outcome.verdict
    assert (verdict.state, verdict.reason) == (State.PROGRESSING, "WaitingForImport")


async def test_deletion_waiting_for_an_import_deletes_the_image_once_it_shows(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    deleting = view(IMPORT_SPEC, obj.status, deleting=True)
    await _delete(reconciler, obj, ens, deleting, FRESH)
    ens.add_image("web", "Creating", created=INTENT)
    await _delete(reconciler, obj, ens, deleting, FRESH + timedelta(seconds=5))
    assert ens.calls("DeleteImage") == 1 and ens.images == {}


async def test_deletion_after_the_listing_lag_releases_when_a_lookup_by_name_finds_nothing(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    result = await _delete(reconciler, obj, ens, view(IMPORT_SPEC, obj.status, deleting=True), SETTLED)
    assert result.done and ens.calls("DescribeSelfImages") == 1


async def test_deletion_after_the_listing_lag_deletes_what_a_lookup_by_name_finds(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    ens.add_image("web", "Available", created=INTENT)
    ens.listed = {}
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    await _delete(reconciler, obj, ens, view(IMPORT_SPEC, obj.status, deleting=True), SETTLED)
    assert ens.images == {}


# --- 3 and 4. the intent write is conditional, and losing it ends the pass --------------------


async def test_an_object_deleted_before_its_intent_is_recorded_is_never_imported(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens, obj = FakeEns(), FakeObject()
    obj.gone = True
    with pytest.raises(ObjectGone):
        await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert ens.calls("ImportImage") == 0


async def test_an_intent_write_that_meets_another_write_ends_the_pass_without_calling_ens(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens, obj = FakeEns(), FakeObject()
    obj.changed_meanwhile = True
    with pytest.raises(ObjectChanged):
        await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert ens.calls("ImportImage") == 0


async def test_the_intent_is_written_with_a_precondition(reconciler: Reconciler[Any, Any]) -> None:
    order: list[str] = []
    ens, obj = FakeEns(order), FakeObject(log=order)
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert order.index("claim:imageName,importStartedAt") < order.index("ImportImage")


async def test_the_intent_write_never_clears_a_recorded_image_id(reconciler: Reconciler[Any, Any]) -> None:
    obj = FakeObject()
    await _pass(reconciler, obj, FakeEns(), view(IMPORT_SPEC))
    assert all(patch.get("imageId", "kept") is not None for patch in obj.patches)


async def test_an_import_repeated_after_recovery_reads_the_object_again_first(
    reconciler: Reconciler[Any, Any],
) -> None:
    order: list[str] = []
    ens = FakeEns(order)
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"}, log=order)
    stale = view(IMPORT_SPEC, {"importStartedAt": INTENT, "imageName": "web"})
    obj.status["imageId"] = "m-7"  # another pass recorded the image after this view was read
    await _pass(reconciler, obj, ens, stale, SETTLED)
    assert ens.calls("ImportImage") == 0


# --- 5. the settle window is the cloud's listing lag ------------------------------------------


def test_the_listing_lag_defaults_to_two_minutes() -> None:
    assert Settings().listing_lag == 120


async def test_recovery_never_imports_again_inside_the_listing_lag(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    inside = NOW + timedelta(seconds=LAG - 1)
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), inside)
    assert outcome.verdict.state is State.PROGRESSING and ens.calls("ImportImage") == 0


async def test_recovery_imports_again_once_the_listing_lag_is_over_and_ens_has_nothing(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": INTENT, "imageName": "web"})
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), SETTLED)
    assert ens.calls("ImportImage") == 1
