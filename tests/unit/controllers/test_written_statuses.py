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


def test_a_write_the_watch_delivered_is_forgotten() -> None:
    written = WrittenStatuses()
    written.record("u1", _body("12", {"imageId": "m-1"}))
    written.seen(_body("11", {}))  # an older event: the write is still ahead of the watch
    assert len(written) == 1
    written.seen(_body("12", {"imageId": "m-1"}))
    assert len(written) == 0


def test_a_body_older_than_what_the_watch_delivered_is_superseded() -> None:
    # The scheduler took a body at the start of its cycle; a handler's pass wrote Ready meanwhile
    # and the watch delivered it: the pass from the old body would write Ready (and its event) again.
    written = WrittenStatuses()
    written.record("u1", _body("12", {"ready": True}))
    written.seen(_body("12", {"ready": True}))
    assert written.superseded(_body("10", {}))
    assert not written.superseded(_body("12", {"ready": True}))
    assert not written.superseded({"metadata": {"uid": "u2", "resourceVersion": "3"}})


def test_a_deleted_object_leaves_nothing_behind() -> None:
    written = WrittenStatuses()
    written.record("u1", _body("12", {"imageId": "m-1"}))
    written.seen(_body("11", {}))
    written.gone("u1")
    assert len(written) == 0 and not written.superseded(_body("10", {}))
