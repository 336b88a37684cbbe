"""Deletion as the API server does it: finalizers hold it, deletionTimestamp sticks."""

from __future__ import annotations

import pytest
from fidelity_kit import Gadgets, wait_gone
from kubernetes.client.exceptions import ApiException

FINALIZER = "sandbox-test.image-operator.io/hold"


def _held(gadgets: Gadgets, name: str) -> None:
    body = gadgets.body(name)
    body["metadata"]["finalizers"] = [FINALIZER]
    gadgets.create(body)


def test_delete_without_finalizers_removes_the_object(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    gadgets.delete("g1")
    assert wait_gone(lambda: gadgets.get("g1"))


def test_delete_with_a_finalizer_only_marks_the_object(gadgets: Gadgets) -> None:
    _held(gadgets, "g1")
    gadgets.delete("g1")
    still = gadgets.get("g1")
    assert still["metadata"]["deletionTimestamp"]
    assert still["metadata"]["finalizers"] == [FINALIZER]


def test_removing_the_last_finalizer_completes_the_deletion(gadgets: Gadgets) -> None:
    _held(gadgets, "g1")
    gadgets.delete("g1")
    gadgets.patch("g1", {"metadata": {"finalizers": None}})
    assert wait_gone(lambda: gadgets.get("g1"))


def test_deletion_timestamp_cannot_be_unset(gadgets: Gadgets) -> None:
    _held(gadgets, "g1")
    gadgets.delete("g1")
    try:
        gadgets.patch("g1", {"metadata": {"deletionTimestamp": None}})
    except ApiException as error:
        assert error.status == 422  # a refusal is as good as ignoring it
    assert gadgets.get("g1")["metadata"]["deletionTimestamp"]


def test_no_new_finalizer_can_be_added_to_a_deleting_object(gadgets: Gadgets) -> None:
    _held(gadgets, "g1")
    gadgets.delete("g1")
    with pytest.raises(ApiException) as raised:
        gadgets.patch("g1", {"metadata": {"finalizers": [FINALIZER, "example.com/another"]}})
    assert raised.value.status == 422
    assert "metadata.finalizers" in raised.value.body


def test_a_deleting_object_can_still_be_updated(gadgets: Gadgets) -> None:
    _held(gadgets, "g1")
    gadgets.delete("g1")
    assert gadgets.patch_status("g1", {"status": {"phase": "Done"}})["status"]["phase"] == "Done"


def test_a_delete_with_a_stale_resource_version_precondition_is_409(gadgets: Gadgets) -> None:
    created = gadgets.make("g1")
    gadgets.patch("g1", {"spec": {"size": 4}})
    stale = {"preconditions": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    with pytest.raises(ApiException) as raised:
        gadgets.api.delete_namespaced_custom_object(
            "sandbox-test.image-operator.io", "v1alpha1", gadgets.namespace, "gadgets", "g1", body=stale
        )
    assert raised.value.status == 409
    assert gadgets.get("g1")["spec"]["size"] == 4


def test_deleting_a_collection_by_label_deletes_only_the_matching_objects(gadgets: Gadgets) -> None:
    for name, tier in (("g1", "edge"), ("g2", "core")):
        body = gadgets.body(name)
        body["metadata"]["labels"] = {"tier": tier}
        gadgets.create(body)
    gadgets.api.delete_collection_namespaced_custom_object(
        "sandbox-test.image-operator.io", "v1alpha1", gadgets.namespace, "gadgets", label_selector="tier=edge"
    )
    assert wait_gone(lambda: gadgets.get("g1"))
    assert gadgets.get("g2")["metadata"]["name"] == "g2"
