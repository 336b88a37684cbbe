"""The status subresource: status writes touch only status, main writes never touch status."""

from __future__ import annotations

import pytest
from fidelity_kit import Gadgets
from kubernetes.client.exceptions import ApiException


def test_status_patch_changes_status_and_nothing_else(gadgets: Gadgets) -> None:
    gadgets.make("g1", size=2)
    after = gadgets.patch_status(
        "g1", {"spec": {"size": 9}, "metadata": {"labels": {"sneaky": "yes"}}, "status": {"phase": "Running"}}
    )
    assert after["status"] == {"phase": "Running"}
    assert after["spec"]["size"] == 2
    assert "sneaky" not in (after["metadata"].get("labels") or {})


def test_main_resource_patch_cannot_change_status(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    gadgets.patch_status("g1", {"status": {"phase": "Running"}})
    after = gadgets.patch("g1", {"spec": {"size": 5}, "status": {"phase": "Done"}})
    assert after["status"] == {"phase": "Running"}
    assert after["spec"]["size"] == 5


def test_status_given_at_create_is_dropped(gadgets: Gadgets) -> None:
    body = gadgets.body("g1")
    body["status"] = {"phase": "Done"}
    assert "status" not in gadgets.create(body)


def test_status_is_validated_against_the_status_schema(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    with pytest.raises(ApiException) as raised:
        gadgets.patch_status("g1", {"status": {"phase": "Exploded"}})
    assert raised.value.status == 422
    assert "status.phase" in raised.value.body


def test_status_write_bumps_resource_version_but_not_generation(gadgets: Gadgets) -> None:
    created = gadgets.make("g1")
    after = gadgets.patch_status("g1", {"status": {"observedGeneration": 1}})
    assert int(after["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert after["metadata"]["generation"] == 1
