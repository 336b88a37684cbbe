"""Optimistic concurrency: JSON-patch tests, stale resourceVersions, replace (PUT)."""

from __future__ import annotations

import json

import pytest
from fidelity_kit import Gadgets
from kubernetes.client.exceptions import ApiException


def test_a_failing_json_patch_test_is_422_and_changes_nothing(gadgets: Gadgets) -> None:
    created = gadgets.make("g1", size=1)
    patch = [
        {"op": "test", "path": "/spec/size", "value": 7},
        {"op": "replace", "path": "/spec/size", "value": 2},
    ]
    with pytest.raises(ApiException) as raised:
        gadgets.patch("g1", patch)
    assert raised.value.status == 422
    assert gadgets.get("g1")["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_a_passing_json_patch_test_applies_the_patch(gadgets: Gadgets) -> None:
    gadgets.make("g1", size=1)
    patch = [
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "replace", "path": "/spec/size", "value": 2},
    ]
    assert gadgets.patch("g1", patch)["spec"]["size"] == 2


def test_a_merge_patch_with_a_stale_resource_version_is_409(gadgets: Gadgets) -> None:
    created = gadgets.make("g1")
    gadgets.patch("g1", {"spec": {"size": 2}})
    with pytest.raises(ApiException) as raised:
        gadgets.patch(
            "g1",
            {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {"size": 3}},
        )
    assert raised.value.status == 409
    assert json.loads(raised.value.body)["reason"] == "Conflict"


def test_replace_with_a_stale_resource_version_is_409(gadgets: Gadgets) -> None:
    created = gadgets.make("g1")
    gadgets.patch("g1", {"spec": {"size": 2}})
    with pytest.raises(ApiException) as raised:
        gadgets.replace("g1", created)
    assert raised.value.status == 409


def test_replace_with_the_current_resource_version_replaces_the_whole_spec(gadgets: Gadgets) -> None:
    current = gadgets.make("g1", ref="abc")
    current["spec"] = {"name": "gadget", "size": 4}
    replaced = gadgets.replace("g1", current)
    assert "ref" not in replaced["spec"]
    assert replaced["spec"]["size"] == 4
    assert replaced["metadata"]["generation"] == 2


def test_replace_without_a_resource_version_is_rejected(gadgets: Gadgets) -> None:
    current = gadgets.make("g1")
    del current["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as raised:
        gadgets.replace("g1", current)
    assert raised.value.status == 422
