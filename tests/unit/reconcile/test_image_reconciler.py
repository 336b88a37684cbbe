"""EnsImage passes against an in-memory ENS account: import, adopt, failures, pause, credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from reconcile_fakes import IMPORT_SPEC, NOW, FakeEns, FakeObject, FakeSnapshots, cloud_of, view

from ens_image_operator.ens.errors import Invalid, Throttled, Transient
from ens_image_operator.reconcile.conditions import State, Verdict, build
from ens_image_operator.reconcile.failures import CredentialsProblem
from ens_image_operator.reconcile.image import ImageDriver
from ens_image_operator.reconcile.loop import Reconciler, finish
from ens_image_operator.reconcile.ports import Cloud, ObjectView
from ens_image_operator.reconcile.timing import Intervals

INTERVALS = Intervals(fast=1.0, slow=600.0)


@pytest.fixture
def reconciler() -> Reconciler[Any, Any]:
    return Reconciler(ImageDriver(INTERVALS, import_timeout=3600, delete_wait_timeout=60))


async def _pass(
    reconciler: Reconciler[Any, Any], obj: FakeObject, ens: FakeEns, v: ObjectView, now: Any = NOW
) -> Any:
    return await reconciler.reconcile(v, obj, cloud_of(ens), now)


async def test_import_records_the_intent_before_calling_import_image(
    reconciler: Reconciler[Any, Any],
) -> None:
    order: list[str] = []
    ens, obj = FakeEns(order), FakeObject(log=order)
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert order.index("patch:imageName,importStartedAt") < order.index("ImportImage")


async def test_import_records_the_new_image_id_right_after_the_call(reconciler: Reconciler[Any, Any]) -> None:
    order: list[str] = []
    ens, obj = FakeEns(order), FakeObject(log=order)
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    after = order[order.index("ImportImage") + 1]
    assert after.startswith("patch:") and "imageId" in after.removeprefix("patch:").split(",")
    assert obj.status["imageId"] == "m-1"


async def test_import_uses_metadata_name_when_image_name_is_unset(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    await _pass(reconciler, FakeObject(), ens, view(IMPORT_SPEC, name="web-01"))
    assert ens.imported[0].image_name == "web-01"


async def test_data_disks_are_sent_as_disk_device_mappings(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    disks = [{"bucket": "images", "object": "d1.qcow2", "region": "cn-beijing"}]
    await _pass(reconciler, FakeObject(), ens, view({**IMPORT_SPEC, "dataDisks": disks}))
    assert [d.oss_object for d in ens.imported[0].disk_device_mapping] == ["d1.qcow2"]


async def test_an_import_in_progress_keeps_reconciling(reconciler: Reconciler[Any, Any]) -> None:
    ens, obj = FakeEns(), FakeObject()
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert (outcome.verdict.state, outcome.verdict.reason, outcome.requeue) == (
        State.PROGRESSING,
        "Importing",
        1.0,
    )


async def test_an_available_image_is_ready_with_its_details(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web", "Available")
    status = {"imageId": image_id, "importStartedAt": "2026-01-01T12:00:00Z"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(IMPORT_SPEC, status))
    assert outcome.verdict.state is State.READY
    assert (outcome.status["imageStatus"], outcome.status["imageSize"], outcome.requeue) == (
        "Available",
        "20",
        None,
    )


@pytest.mark.parametrize("failure", ["Pack_failed", "Upload_failed"])
async def test_a_failed_import_stalls(reconciler: Reconciler[Any, Any], failure: str) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web", failure)
    status = {"imageId": image_id, "importStartedAt": "2026-01-01T12:00:00Z"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(IMPORT_SPEC, status))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "ImportFailed")
    assert failure in outcome.verdict.message


async def test_an_image_that_became_unavailable_is_no_longer_ready(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web", "Unavailable")
    status = {"imageId": image_id, "importStartedAt": "2026-01-01T12:00:00Z"}
    outcome = await _pass(reconciler, FakeObject(status), ens, view(IMPORT_SPEC, status))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "ImageNotAvailable")


async def test_an_import_running_past_its_timeout_stalls(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("web", "Packing")
    status = {"imageId": image_id, "importStartedAt": "2026-01-01T12:00:00Z"}
    outcome = await _pass(
        reconciler, FakeObject(status), ens, view(IMPORT_SPEC, status), NOW + timedelta(hours=2)
    )
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "ImportTimeout")


async def test_after_a_crash_during_import_the_image_is_found_not_imported_again(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens, obj = FakeEns(), FakeObject()
    ens.crash_after_import = True
    with pytest.raises(RuntimeError):
        await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    ens.crash_after_import = False
    restarted = view(IMPORT_SPEC, obj.status)  # what a fresh operator reads back
    await _pass(reconciler, obj, ens, restarted)
    assert ens.calls("ImportImage") == 1 and len(ens.images) == 1
    assert obj.status["imageId"] == "m-1"


async def test_after_a_crash_before_the_call_reached_ens_the_import_is_made(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": "2026-01-01T12:00:00Z", "imageName": "web"})
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), NOW + timedelta(minutes=3))
    assert ens.calls("ImportImage") == 1 and obj.status["imageId"] == "m-1"


async def test_a_very_recent_interrupted_import_is_given_time_to_appear(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": "2026-01-01T12:00:00Z", "imageName": "web"})
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), NOW + timedelta(seconds=2))
    assert outcome.verdict.state is State.PROGRESSING and ens.calls("ImportImage") == 0


async def test_while_an_interrupted_import_settles_no_lookup_by_name_is_made(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    obj = FakeObject({"importStartedAt": "2026-01-01T12:00:00Z", "imageName": "web"})
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), NOW + timedelta(seconds=2))
    assert ens.calls("DescribeSelfImages") == 0 and ens.calls("snapshot") == 1


async def test_an_interrupted_import_is_found_in_the_shared_snapshot(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    ens.add_image("web", "Creating", created="2026-01-01T12:00:01Z")
    obj = FakeObject({"importStartedAt": "2026-01-01T12:00:00Z", "imageName": "web"})
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), NOW + timedelta(seconds=2))
    assert obj.status["imageId"] == "m-1" and ens.calls("DescribeSelfImages") == 0


async def test_an_unrelated_older_image_of_the_same_name_is_not_adopted(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    ens.add_image("web", "Available", created="2025-06-01T00:00:00Z")
    obj = FakeObject({"importStartedAt": "2026-01-01T12:00:00Z"})
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC, obj.status), NOW + timedelta(minutes=3))
    assert obj.status["imageId"] == "m-2" and ens.calls("ImportImage") == 1


async def test_a_pass_reading_a_stale_object_does_not_import_twice(reconciler: Reconciler[Any, Any]) -> None:
    ens, obj = FakeEns(), FakeObject()
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    await _pass(reconciler, obj, ens, view(IMPORT_SPEC))  # still sees the status before the import
    assert ens.calls("ImportImage") == 1


async def test_an_import_that_may_have_taken_effect_keeps_the_intent(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens, obj = FakeEns(), FakeObject()
    ens.fail["ImportImage"] = Transient("ConnectionLost", maybe_applied=True)
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "Retrying")
    assert "importStartedAt" in obj.status


async def test_an_import_refused_with_a_503_is_retried_afresh(reconciler: Reconciler[Any, Any]) -> None:
    ens, obj = FakeEns(), FakeObject()
    ens.fail["ImportImage"] = Transient("ServiceUnavailable", request_id="R-9", http_status=503)
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "Retrying")
    assert "importStartedAt" not in obj.status  # ENS answered: nothing was created


async def test_an_interrupted_import_is_looked_at_again_when_its_window_closes(
    reconciler: Reconciler[Any, Any],
) -> None:
    obj = FakeObject({"importStartedAt": "2026-01-01T12:00:00Z", "imageName": "web"})
    outcome = await _pass(
        reconciler, obj, FakeEns(), view(IMPORT_SPEC, obj.status), NOW + timedelta(seconds=2)
    )
    assert outcome.requeue == pytest.approx(reconciler.driver.listing_lag - 2)


async def test_a_throttled_import_is_retried_afresh(reconciler: Reconciler[Any, Any]) -> None:
    ens, obj = FakeEns(), FakeObject()
    ens.fail["ImportImage"] = Throttled("Throttling.User", request_id="R-8")
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PROGRESSING, "Throttled")
    assert "importStartedAt" not in obj.status  # refused before processing: nothing to recover


async def test_import_image_goes_through_the_client_that_never_retries(
    reconciler: Reconciler[Any, Any],
) -> None:
    retrying, single = FakeEns(), FakeEns()

    async def factory() -> Cloud:
        return Cloud(retrying, FakeSnapshots(retrying), "operator", once=single)

    await reconciler.reconcile(view(IMPORT_SPEC), FakeObject(), factory, NOW)
    assert (single.calls("ImportImage"), retrying.calls("ImportImage")) == (1, 0)


async def test_a_refused_import_stalls_with_the_code_and_clears_the_intent(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens, obj = FakeEns(), FakeObject()
    ens.fail["ImportImage"] = Invalid("InvalidParameter.OSSObject", "no such object", request_id="R-7")
    outcome = await _pass(reconciler, obj, ens, view(IMPORT_SPEC))
    assert outcome.verdict.state is State.STALLED
    assert "InvalidParameter.OSSObject" in outcome.verdict.message and "R-7" in outcome.verdict.message
    assert "importStartedAt" not in obj.status


async def test_a_terminal_stall_makes_no_calls_until_the_generation_changes(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    stalled = {
        "conditions": build(Verdict(State.STALLED, "InvalidParameter", "bad"), None, generation=1, now=NOW)
    }
    outcome = await _pass(reconciler, FakeObject(stalled), ens, view(IMPORT_SPEC, stalled, generation=1))
    assert outcome.verdict.state is State.STALLED and ens.log == []
    await _pass(reconciler, FakeObject(stalled), ens, view(IMPORT_SPEC, stalled, generation=2))
    assert ens.calls("ImportImage") == 1


async def test_a_metadata_name_that_is_not_a_valid_image_name_stalls(
    reconciler: Reconciler[Any, Any],
) -> None:
    ens = FakeEns()
    outcome = await _pass(reconciler, FakeObject(), ens, view(IMPORT_SPEC, name="1st.image"))
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "InvalidImageName")
    assert ens.log == []


async def test_adopting_an_existing_image_observes_it(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    image_id = ens.add_image("legacy", "Available")
    outcome = await _pass(reconciler, FakeObject(), ens, view({"imageId": image_id}))
    assert outcome.verdict.state is State.READY and ens.calls("ImportImage") == 0


async def test_adopting_a_missing_image_stalls_as_not_found_once_the_listing_lag_is_over(
    reconciler: Reconciler[Any, Any],
) -> None:
    since_now = build(Verdict(State.PROGRESSING, "WaitingForImage"), None, generation=1, now=NOW)
    looking = {"conditions": since_now}
    later = NOW + timedelta(seconds=reconciler.driver.listing_lag)
    outcome = await _pass(reconciler, FakeObject(), FakeEns(), view({"imageId": "m-404"}, looking), later)
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "NotFound")


async def test_a_paused_object_makes_no_cloud_calls(reconciler: Reconciler[Any, Any]) -> None:
    ens = FakeEns()
    paused = view(IMPORT_SPEC, annotations={"ens.image-operator.io/paused": "true"})
    outcome = await _pass(reconciler, FakeObject(), ens, paused)
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.PAUSED, "Paused") and ens.log == []


async def test_unusable_credentials_stall_naming_the_secret_and_are_rechecked(
    reconciler: Reconciler[Any, Any],
) -> None:
    async def broken() -> Cloud:
        raise CredentialsProblem("Secret default/creds named in spec.credentialsRef does not exist")

    outcome = await reconciler.reconcile(view(IMPORT_SPEC), FakeObject(), broken, NOW)
    assert (outcome.verdict.state, outcome.verdict.reason) == (State.STALLED, "CredentialsError")
    assert "default/creds" in outcome.verdict.message and outcome.requeue == INTERVALS.credentials_recheck


# --- writes per import (P7) ---------------------------------------------------------------------


async def _pass_and_finish(reconciler: Reconciler[Any, Any], obj: FakeObject, ens: FakeEns, now: Any) -> Any:
    v = view(IMPORT_SPEC, obj.status)
    outcome = await reconciler.reconcile(v, obj, cloud_of(ens), now)
    if outcome is not None:
        await finish(v, obj, outcome, now)
    return outcome


async def test_an_import_writes_its_status_three_times_until_ready(reconciler: Reconciler[Any, Any]) -> None:
    # The intent, then the id with the Importing status in one write, then Ready; a pass while ENS
    # does not list the new image yet writes nothing (it would say only what the status says).
    ens, obj = FakeEns(), FakeObject()
    ens.listed = {}  # the shared snapshot predates the new image
    await _pass_and_finish(reconciler, obj, ens, NOW)
    assert [sorted(patch) for patch in obj.patches] == [
        ["imageName", "importStartedAt"],
        ["conditions", "imageId", "imageStatus", "observedGeneration"],
    ]
    await _pass_and_finish(reconciler, obj, ens, NOW + timedelta(seconds=1))
    assert len(obj.patches) == 2
    ens.listed = None
    ens.images["m-1"] = ens.images["m-1"].model_copy(update={"status": "Available"})
    outcome = await _pass_and_finish(reconciler, obj, ens, NOW + timedelta(seconds=2))
    assert outcome.verdict.state is State.READY and len(obj.patches) == 3
    assert obj.event_reasons == ["Importing", "Available"]
