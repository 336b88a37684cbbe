"""A pass never decides from a status older than the one the operator itself just wrote."""

from __future__ import annotations

from typing import Any

from ens_image_operator.controllers.runtime import WrittenStatuses


def _body(revision: str, status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"uid": "u1", "resourceVersion": revision}, "status": status}


def test_a_body_older_than_our_write_gets_the_written_status() -> None:
    written = WrittenStatuses()
    written.record("u1", _body("12", {"imageId": "m-1"}))
    assert written.current(_body("10", {}))["status"] == {"imageId": "m-1"}


def test_a_body_that_caught_up_is_used_as_is() -> None:
    written = WrittenStatuses()
    written.record("u1", _body("12", {"imageId": "m-1"}))
    assert written.current(_body("13", {"imageId": "m-1", "imageStatus": "Available"}))["status"][
        "imageStatus"
    ]


def test_bodies_of_other_objects_are_untouched() -> None:
    written = WrittenStatuses()
    written.record("u2", _body("12", {"imageId": "m-2"}))
    assert written.current(_body("10", {"x": 1}))["status"] == {"x": 1}


def test_opaque_resource_versions_are_not_compared() -> None:
    written = WrittenStatuses()
    written.record("u1", _body("abc", {"imageId": "m-1"}))
    assert written.current(_body("10", {}))["status"] == {}
