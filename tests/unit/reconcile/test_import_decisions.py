"""The crash-safe import decision table and the recovery of an interrupted import by exact name."""

from __future__ import annotations

from datetime import timedelta

from reconcile_fakes import NOW

from ens_image_operator.api.image import EnsImageSpec, EnsImageStatus
from ens_image_operator.ens.models import SelfImage
from ens_image_operator.reconcile.image import ImportStep, deletion_policy, import_step, pick_recovered


def _image(image_id: str, name: str, created: str | None) -> SelfImage:
    return SelfImage(image_id=image_id, image_name=name, status="Creating", creation_time=created)


def test_nothing_recorded_means_import() -> None:
    assert import_step(EnsImageStatus()) is ImportStep.IMPORT


def test_intent_without_id_means_recover_before_importing() -> None:
    assert import_step(EnsImageStatus(import_started_at="2026-01-01T12:00:00Z")) is ImportStep.RECOVER


def test_a_recorded_id_means_observe() -> None:
    status = EnsImageStatus(import_started_at="2026-01-01T12:00:00Z", image_id="m-1")
    assert import_step(status) is ImportStep.OBSERVE


def test_recovery_ignores_names_that_only_contain_ours() -> None:
    candidates = [
        _image("m-1", "web-old", "2026-01-01T12:00:01Z"),
        _image("m-2", "myweb", "2026-01-01T12:00:01Z"),
    ]
    assert pick_recovered(candidates, "web", NOW) is None


def test_recovery_finds_the_exact_name_created_after_the_intent() -> None:
    found = pick_recovered([_image("m-3", "web", "2026-01-01T12:00:02Z")], "web", NOW)
    assert found is not None and found.image_id == "m-3"


def test_recovery_ignores_an_older_unrelated_image_of_the_same_name() -> None:
    old = (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pick_recovered([_image("m-4", "web", old)], "web", NOW) is None


def test_recovery_tolerates_clock_skew_between_operator_and_cloud() -> None:
    skewed = (NOW - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pick_recovered([_image("m-5", "web", skewed)], "web", NOW) is not None


def test_recovery_accepts_an_unreadable_creation_time_rather_than_import_twice() -> None:
    assert pick_recovered([_image("m-6", "web", "soon")], "web", NOW) is not None


def test_recovery_picks_the_earliest_of_several_matches() -> None:
    candidates = [_image("m-8", "web", "2026-01-01T12:00:09Z"), _image("m-7", "web", "2026-01-01T12:00:03Z")]
    found = pick_recovered(candidates, "web", NOW)
    assert found is not None and found.image_id == "m-7"


def test_imported_images_are_deleted_and_adopted_ones_retained_by_default() -> None:
    source = {"oss": {"bucket": "images", "object": "w.qcow2", "region": "cn-beijing"}}
    assert deletion_policy(EnsImageSpec.model_validate({"source": source})) == "Delete"
    assert deletion_policy(EnsImageSpec.model_validate({"imageId": "m-1"})) == "Retain"
    assert (
        deletion_policy(EnsImageSpec.model_validate({"imageId": "m-1", "deletionPolicy": "Delete"}))
        == "Delete"
    )
