"""The generic loop: status written only on change, events on transitions, which objects get timers."""

from __future__ import annotations

from reconcile_fakes import IMPORT_SPEC, NOW, FakeObject, view

from ens_image_operator.api.image import EnsImageStatus
from ens_image_operator.reconcile.conditions import State, Verdict, build
from ens_image_operator.reconcile.loop import Outcome, finish, should_poll, status_patch


def _status(verdict: Verdict, generation: int = 1) -> dict[str, object]:
    return {
        "observedGeneration": generation,
        "conditions": build(verdict, None, generation=generation, now=NOW),
    }


async def test_an_unchanged_outcome_writes_nothing_and_posts_no_event() -> None:
    ready = Verdict(State.READY, "Available")
    status = {**_status(ready), "imageId": "m-1"}
    obj = FakeObject(status)
    await finish(view(IMPORT_SPEC, status), obj, Outcome(ready, EnsImageStatus(image_id="m-1")), NOW)
    assert obj.patches == [] and obj.events == []


async def test_a_transition_writes_conditions_and_posts_one_event() -> None:
    status = _status(Verdict(State.PROGRESSING, "Importing"))
    obj = FakeObject(status)
    await finish(view(IMPORT_SPEC, status), obj, Outcome(Verdict(State.READY, "Available", "m-1 ready")), NOW)
    assert len(obj.patches) == 1 and obj.events == [("Normal", "Available", "m-1 ready")]


async def test_a_stall_is_posted_as_a_warning() -> None:
    obj = FakeObject()
    await finish(view(IMPORT_SPEC), obj, Outcome(Verdict(State.STALLED, "ImportFailed", "Pack_failed")), NOW)
    assert obj.events == [("Warning", "ImportFailed", "Pack_failed")]


def test_status_patch_records_the_observed_generation() -> None:
    patch = status_patch(view(IMPORT_SPEC, generation=4), Outcome(Verdict(State.READY, "Available")), NOW)
    assert patch["observedGeneration"] == 4


def test_a_new_object_is_polled() -> None:
    assert should_poll(view(IMPORT_SPEC))


def test_an_object_in_flight_is_polled() -> None:
    assert should_poll(view(IMPORT_SPEC, _status(Verdict(State.PROGRESSING, "Importing"))))


def test_a_ready_object_has_no_timer() -> None:
    assert not should_poll(view(IMPORT_SPEC, _status(Verdict(State.READY, "Available"))))


def test_a_terminally_stalled_object_has_no_timer() -> None:
    assert not should_poll(view(IMPORT_SPEC, _status(Verdict(State.STALLED, "InvalidParameter"))))


def test_an_object_stalled_on_credentials_keeps_being_rechecked() -> None:
    assert should_poll(view(IMPORT_SPEC, _status(Verdict(State.STALLED, "CredentialsError"))))


def test_a_changed_spec_is_polled_even_if_it_was_ready() -> None:
    assert should_poll(
        view(IMPORT_SPEC, _status(Verdict(State.READY, "Available"), generation=1), generation=2)
    )


def test_deleting_objects_have_no_timer() -> None:
    in_flight = _status(Verdict(State.PROGRESSING, "Importing"))
    assert not should_poll(view(IMPORT_SPEC, in_flight, deleting=True))


def test_paused_objects_keep_a_timer_to_notice_the_pause_lifted() -> None:
    ready = _status(Verdict(State.READY, "Available"))
    assert should_poll(view(IMPORT_SPEC, ready, annotations={"ens.image-operator.io/paused": "true"}))


def test_an_object_whose_pause_was_lifted_is_polled() -> None:
    assert should_poll(view(IMPORT_SPEC, _status(Verdict(State.PAUSED, "Paused"))))
