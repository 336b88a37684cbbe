"""The scheduler's index: one entry per live object, kept from watch events."""

from __future__ import annotations

from ens_image_operator.controllers.index import ObjectIndex


def test_an_object_put_is_listed_once_in_the_shape_of_a_kopf_index() -> None:
    index: ObjectIndex[str] = ObjectIndex()
    index.put(("ns", "web"), "uid-1", "first")
    index.put(("ns", "web"), "uid-1", "second")
    assert list(index.items()) == [(("ns", "web"), ["second"])]


def test_a_deleted_object_leaves_the_index() -> None:
    index: ObjectIndex[str] = ObjectIndex()
    index.put(("ns", "web"), "uid-1", "entry")
    index.remove(("ns", "web"), "uid-1")
    assert list(index.items()) == []


def test_a_late_deletion_of_an_old_object_keeps_the_one_recreated_under_its_name() -> None:
    index: ObjectIndex[str] = ObjectIndex()
    index.put(("ns", "web"), "uid-old", "old")
    index.put(("ns", "web"), "uid-new", "new")
    index.remove(("ns", "web"), "uid-old")
    assert list(index.items()) == [(("ns", "web"), ["new"])]
