"""Watches: replay, resume from a resourceVersion, timeouts, selectors, deletions."""

from __future__ import annotations

import time
from typing import Any

from fidelity_kit import GROUP, PLURAL, VERSION, Cluster, Gadgets
from kubernetes import watch


def _events(cluster: Cluster, namespace: str, **kwargs: Any) -> list[tuple[str, str]]:
    """(type, name) of every event a watch sends until its server-side timeout."""
    stream = watch.Watch().stream(
        cluster.custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, **kwargs
    )
    return [(event["type"], event["object"]["metadata"]["name"]) for event in stream]


def test_a_watch_without_resource_version_replays_current_objects_as_added(
    cluster: Cluster, gadgets: Gadgets, namespace: str
) -> None:
    gadgets.make("g1")
    gadgets.make("g2")
    assert _events(cluster, namespace, timeout_seconds=1) == [("ADDED", "g1"), ("ADDED", "g2")]


def test_a_watch_from_a_resource_version_sends_only_newer_events(
    cluster: Cluster, gadgets: Gadgets, namespace: str
) -> None:
    gadgets.make("g1")
    since = gadgets.list()["metadata"]["resourceVersion"]
    gadgets.patch("g1", {"spec": {"size": 5}})
    gadgets.make("g2")
    events = _events(cluster, namespace, resource_version=since, timeout_seconds=1)
    assert events == [("MODIFIED", "g1"), ("ADDED", "g2")]


def test_a_watch_ends_after_its_timeout_seconds(cluster: Cluster, namespace: str) -> None:
    started = time.monotonic()
    assert _events(cluster, namespace, timeout_seconds=1) == []
    assert time.monotonic() - started < 10


def test_a_watch_with_a_label_selector_sends_only_matching_objects(
    cluster: Cluster, gadgets: Gadgets, namespace: str
) -> None:
    for name, tier in (("g1", "edge"), ("g2", "core")):
        body = gadgets.body(name)
        body["metadata"]["labels"] = {"tier": tier}
        gadgets.create(body)
    assert _events(cluster, namespace, label_selector="tier=core", timeout_seconds=1) == [("ADDED", "g2")]


def test_a_deletion_is_streamed_as_deleted_with_a_newer_resource_version(
    cluster: Cluster, gadgets: Gadgets, namespace: str
) -> None:
    created = gadgets.make("g1")
    since = created["metadata"]["resourceVersion"]
    gadgets.delete("g1")
    stream = watch.Watch().stream(
        cluster.custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        resource_version=since,
        timeout_seconds=1,
    )
    events = list(stream)
    assert [e["type"] for e in events] == ["DELETED"]
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) > int(since)


def test_namespaces_can_be_watched(cluster: Cluster, namespace: str) -> None:
    stream = watch.Watch().stream(cluster.core.list_namespace, timeout_seconds=1)
    names = [event["object"].metadata.name for event in stream]
    assert namespace in names


def test_a_selector_watch_sees_objects_entering_as_added_and_leaving_as_deleted(
    cluster: Cluster, gadgets: Gadgets, namespace: str
) -> None:
    gadgets.make("g1")
    since = gadgets.list()["metadata"]["resourceVersion"]
    gadgets.patch("g1", {"metadata": {"labels": {"tier": "edge"}}})
    gadgets.patch("g1", {"spec": {"size": 4}})
    gadgets.patch("g1", {"metadata": {"labels": {"tier": "core"}}})
    events = _events(
        cluster, namespace, label_selector="tier=edge", resource_version=since, timeout_seconds=1
    )
    assert events == [("ADDED", "g1"), ("MODIFIED", "g1"), ("DELETED", "g1")]
