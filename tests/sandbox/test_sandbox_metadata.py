"""Object metadata the API server owns: uid, timestamps, resourceVersion, generation, names."""

from __future__ import annotations

import pytest
from fidelity_kit import Cluster, Gadgets
from kubernetes.client.exceptions import ApiException


def test_create_assigns_uid_creation_timestamp_resource_version_and_generation_one(gadgets: Gadgets) -> None:
    meta = gadgets.make("g1")["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1


def test_resource_version_grows_across_objects_and_writes(gadgets: Gadgets) -> None:
    first = int(gadgets.make("g1")["metadata"]["resourceVersion"])
    second = int(gadgets.make("g2")["metadata"]["resourceVersion"])
    third = int(gadgets.patch("g1", {"metadata": {"labels": {"a": "b"}}})["metadata"]["resourceVersion"])
    assert first < second < third


def test_generation_grows_when_spec_changes(gadgets: Gadgets) -> None:
    gadgets.make("g1", size=1)
    assert gadgets.patch("g1", {"spec": {"size": 2}})["metadata"]["generation"] == 2


def test_generation_stays_when_only_metadata_or_status_change(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    gadgets.patch("g1", {"metadata": {"labels": {"team": "edge"}, "annotations": {"x": "y"}}})
    after = gadgets.patch_status("g1", {"status": {"phase": "Running"}})
    assert after["metadata"]["generation"] == 1


def test_a_write_that_changes_nothing_keeps_the_resource_version(gadgets: Gadgets) -> None:
    created = gadgets.make("g1", size=4)
    again = gadgets.patch("g1", {"spec": {"size": 4}})
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_generate_name_gives_distinct_names_with_the_prefix(gadgets: Gadgets) -> None:
    body = gadgets.body("")
    body["metadata"] = {"generateName": "gen-"}
    names = {gadgets.create(body)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3
    assert all(name.startswith("gen-") and len(name) > len("gen-") for name in names)


def test_creating_an_existing_name_is_409_already_exists(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    with pytest.raises(ApiException) as raised:
        gadgets.make("g1")
    assert raised.value.status == 409
    assert '"reason":"AlreadyExists"' in raised.value.body.replace(" ", "")


def test_creating_in_a_missing_namespace_is_404(cluster: Cluster) -> None:
    missing = Gadgets(cluster, "no-such-namespace-here")
    with pytest.raises(ApiException) as raised:
        missing.make("g1")
    assert raised.value.status == 404


def test_an_invalid_object_name_is_rejected_with_422(gadgets: Gadgets) -> None:
    with pytest.raises(ApiException) as raised:
        gadgets.make("Not_A_Name")
    assert raised.value.status == 422
    assert "metadata.name" in raised.value.body


def test_creation_timestamp_and_generation_in_a_patch_are_ignored(gadgets: Gadgets) -> None:
    created = gadgets.make("g1")
    patched = gadgets.patch(
        "g1", {"metadata": {"creationTimestamp": "2001-01-01T00:00:00Z", "generation": 99}}
    )
    assert patched["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert patched["metadata"]["generation"] == 1


def test_a_patch_carrying_another_uid_is_refused(gadgets: Gadgets) -> None:
    created = gadgets.make("g1")
    with pytest.raises(ApiException) as raised:
        gadgets.patch("g1", {"metadata": {"uid": "6b3c4a55-0000-0000-0000-000000000000"}})
    assert raised.value.status in (409, 422)  # a failed precondition, or an immutable field
    assert gadgets.get("g1")["metadata"]["uid"] == created["metadata"]["uid"]


def test_a_dry_run_create_answers_with_the_object_but_stores_nothing(gadgets: Gadgets) -> None:
    answered = gadgets.create(gadgets.body("g1"), dry_run="All")
    assert answered["metadata"]["name"] == "g1"
    assert answered["spec"]["size"] == 3  # admission ran: defaults are in
    with pytest.raises(ApiException) as raised:
        gadgets.get("g1")
    assert raised.value.status == 404


@pytest.mark.parametrize(
    "labels", [{"tier": "not a valid value!"}, {"bad key": "x"}, {"tier": "v" * 64}, {"a/b/c": "x"}]
)
def test_invalid_labels_are_rejected_with_422(gadgets: Gadgets, labels: dict[str, str]) -> None:
    body = gadgets.body("g1")
    body["metadata"]["labels"] = labels
    with pytest.raises(ApiException) as raised:
        gadgets.create(body)
    assert raised.value.status == 422
    assert "metadata.labels" in raised.value.body


def test_valid_prefixed_labels_and_annotations_are_accepted(gadgets: Gadgets) -> None:
    body = gadgets.body("g1")
    body["metadata"]["labels"] = {"app.kubernetes.io/name": "gadget", "empty": ""}
    body["metadata"]["annotations"] = {
        "ens.image-operator.io/last-handled-configuration": '{"a": 1} any text'
    }
    assert gadgets.create(body)["metadata"]["labels"]["app.kubernetes.io/name"] == "gadget"
