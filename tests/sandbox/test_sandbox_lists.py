"""Lists, selectors and the built-in kinds the operator and the tests use."""

from __future__ import annotations

import json

import pytest
from fidelity_kit import GROUP, Cluster, Gadgets, wait_gone
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def test_a_list_carries_kind_api_version_and_resource_version(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    listed = gadgets.list()
    assert listed["kind"] == "GadgetList"
    assert listed["apiVersion"] == f"{GROUP}/v1alpha1"
    assert int(listed["metadata"]["resourceVersion"]) > 0
    assert [item["metadata"]["name"] for item in listed["items"]] == ["g1"]


def _labelled(gadgets: Gadgets) -> None:
    for name, labels in {"a": {"tier": "edge", "team": "x"}, "b": {"tier": "core"}, "c": {}}.items():
        body = gadgets.body(name)
        body["metadata"]["labels"] = labels
        gadgets.create(body)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=edge", ["a"]),
        ("tier!=edge", ["b", "c"]),
        ("tier in (edge,core)", ["a", "b"]),
        ("tier notin (edge)", ["b", "c"]),
        ("team", ["a"]),
        ("!team", ["b", "c"]),
        ("tier=edge,team=x", ["a"]),
    ],
)
def test_label_selectors_filter_lists(gadgets: Gadgets, selector: str, expected: list[str]) -> None:
    _labelled(gadgets)
    names = [item["metadata"]["name"] for item in gadgets.list(label_selector=selector)["items"]]
    assert sorted(names) == expected


def test_field_selector_on_name_filters_lists(gadgets: Gadgets) -> None:
    _labelled(gadgets)
    items = gadgets.list(field_selector="metadata.name=b")["items"]
    assert [item["metadata"]["name"] for item in items] == ["b"]


def test_an_unsupported_field_selector_is_400(gadgets: Gadgets) -> None:
    with pytest.raises(ApiException) as raised:
        gadgets.list(field_selector="spec.size=3")
    assert raised.value.status == 400


def test_namespaces_can_be_created_listed_and_read(cluster: Cluster, namespace: str) -> None:
    names = [ns.metadata.name for ns in cluster.core.list_namespace().items]
    assert namespace in names
    assert "default" in names
    assert cluster.core.read_namespace(namespace).status.phase == "Active"


def test_listing_across_namespaces_returns_every_namespace_objects(cluster: Cluster, namespace: str) -> None:
    other = f"{namespace}-b"
    cluster.core.create_namespace({"metadata": {"name": other}})
    try:
        for ns in (namespace, other):
            Gadgets(cluster, ns).make("same-name")
        everywhere = cluster.custom.list_cluster_custom_object(GROUP, "v1alpha1", "gadgets")["items"]
        found = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everywhere}
        assert {(namespace, "same-name"), (other, "same-name")} <= found
    finally:
        cluster.core.delete_namespace(other)


def test_configmaps_and_secrets_round_trip(cluster: Cluster, namespace: str) -> None:
    cluster.core.create_namespaced_config_map(namespace, {"metadata": {"name": "cm"}, "data": {"k": "v"}})
    cluster.core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert cluster.core.read_namespaced_config_map("cm", namespace).data == {"k": "v"}
    assert cluster.core.read_namespaced_secret("s", namespace).metadata.name == "s"


def test_leases_round_trip(cluster: Cluster, namespace: str) -> None:
    leases = client.CoordinationV1Api(cluster.api_client)
    leases.create_namespaced_lease(namespace, {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}})
    assert leases.read_namespaced_lease("l", namespace).spec.holder_identity == "me"


def test_core_events_are_created_and_found_by_involved_object(cluster: Cluster, namespace: str) -> None:
    for name in ("g1", "g2"):
        event = {
            "metadata": {"generateName": f"{name}-"},
            "involvedObject": {"kind": "Gadget", "name": name, "namespace": namespace},
            "reason": "Testing",
            "message": f"about {name}",
            "type": "Normal",
        }
        cluster.core.create_namespaced_event(namespace, event)
    found = cluster.core.list_namespaced_event(namespace, field_selector="involvedObject.name=g2").items
    assert [e.message for e in found] == ["about g2"]


# The Python client turns a MicroTime into datetime.isoformat(), which drops zero microseconds;
# a real API server then refuses the body (see the test below), so the suite uses non-zero ones.
EVENT_TIME = "2026-01-01T00:00:00.123456Z"


def _post_as_is(cluster: Cluster, path: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    """POST ``body`` byte for byte, past the client's own conversions."""
    method, url, headers, data, _ = cluster.api_client.param_serialize(
        "POST",
        path,
        body=body,
        header_params={"Content-Type": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = cluster.api_client.call_api(method, url, headers, data)
    response.read()
    return response.status, json.loads(response.data)


@pytest.mark.parametrize("event_time", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123+00:00"])
def test_an_event_time_without_six_fractional_digits_is_undecodable(
    cluster: Cluster, namespace: str, event_time: str
) -> None:
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "ev1"},
        "eventTime": event_time,
        "reportingController": "sandbox-test",
        "reportingInstance": "sandbox-test-1",
        "action": "Testing",
        "reason": "Testing",
        "regarding": {"kind": "Gadget", "name": "g1", "namespace": namespace},
        "type": "Normal",
    }
    code, status = _post_as_is(cluster, f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", body)
    assert code == 400
    assert status["reason"] == "BadRequest"
    assert f'Event in version "v1" cannot be handled as a Event: parsing time "{event_time}"' in str(
        status["message"]
    )


def test_events_k8s_io_events_are_created_and_listed(cluster: Cluster, namespace: str) -> None:
    events = client.EventsV1Api(cluster.api_client)
    body = {
        "metadata": {"name": "ev1"},
        "eventTime": EVENT_TIME,
        "reportingController": "sandbox-test",
        "reportingInstance": "sandbox-test-1",
        "action": "Testing",
        "reason": "Testing",
        "regarding": {"kind": "Gadget", "name": "g1", "namespace": namespace},
        "note": "hello",
        "type": "Normal",
    }
    events.create_namespaced_event(namespace, body)
    assert [e.note for e in events.list_namespaced_event(namespace).items] == ["hello"]


def test_the_test_crd_is_listed(cluster: Cluster) -> None:
    crds = client.ApiextensionsV1Api(cluster.api_client).list_custom_resource_definition().items
    assert f"gadgets.{GROUP}" in [crd.metadata.name for crd in crds]


def test_deleting_a_namespace_deletes_its_objects(cluster: Cluster, namespace: str) -> None:
    name = f"{namespace}-doomed"
    cluster.core.create_namespace({"metadata": {"name": name}})
    Gadgets(cluster, name).make("g1")
    cluster.core.create_namespaced_config_map(name, {"metadata": {"name": "cm"}})
    event = {
        "metadata": {"name": "ev"},
        "involvedObject": {"kind": "Gadget", "name": "g1", "namespace": name},
    }
    cluster.core.create_namespaced_event(name, event)
    cluster.core.delete_namespace(name)
    assert wait_gone(lambda: cluster.core.read_namespace(name), timeout=120)
    assert cluster.custom.list_namespaced_custom_object(GROUP, "v1alpha1", name, "gadgets")["items"] == []


def test_secret_string_data_is_stored_as_base64_data(cluster: Cluster, namespace: str) -> None:
    cluster.core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    secret = cluster.core.read_namespaced_secret("s", namespace)
    assert secret.data == {"k": "dg=="}
    assert secret.string_data is None


def test_a_core_event_is_seen_through_events_k8s_io_with_mapped_fields(
    cluster: Cluster, namespace: str
) -> None:
    event = {
        "metadata": {"name": "ev1"},
        "involvedObject": {"kind": "Gadget", "name": "g1", "namespace": namespace},
        "reason": "Testing",
        "message": "posted as core v1",
        "type": "Normal",
        "source": {"component": "tester"},
        "eventTime": EVENT_TIME,
        "reportingComponent": "tester",
        "reportingInstance": "tester-1",
        "action": "Testing",
    }
    cluster.core.create_namespaced_event(namespace, event)
    seen = client.EventsV1Api(cluster.api_client).read_namespaced_event("ev1", namespace)
    assert seen.note == "posted as core v1"
    assert seen.regarding.name == "g1"


def test_an_events_k8s_io_event_is_seen_as_a_core_event(cluster: Cluster, namespace: str) -> None:
    body = {
        "metadata": {"name": "ev2"},
        "eventTime": EVENT_TIME,
        "reportingController": "sandbox-test",
        "reportingInstance": "sandbox-test-1",
        "action": "Testing",
        "reason": "Testing",
        "regarding": {"kind": "Gadget", "name": "g2", "namespace": namespace},
        "note": "posted as events.k8s.io",
        "type": "Normal",
    }
    client.EventsV1Api(cluster.api_client).create_namespaced_event(namespace, body)
    seen = cluster.core.list_namespaced_event(namespace, field_selector="involvedObject.name=g2").items
    assert [e.message for e in seen] == ["posted as events.k8s.io"]


def test_a_limited_list_pages_through_every_object_with_continue_tokens(gadgets: Gadgets) -> None:
    for index in range(5):
        gadgets.make(f"g{index}")
    first = gadgets.list(limit=2)
    assert len(first["items"]) == 2
    names = [item["metadata"]["name"] for item in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = gadgets.list(limit=2, _continue=token)
        names += [item["metadata"]["name"] for item in page["items"]]
        token = page["metadata"].get("continue")
    assert names == ["g0", "g1", "g2", "g3", "g4"]


def test_an_object_larger_than_a_mebibyte_is_accepted(gadgets: Gadgets) -> None:
    big = "x" * (1200 * 1024)  # above 1 MiB, below the 1.5 MiB a real cluster's etcd stores
    gadgets.make("big", extra={"blob": big})
    assert len(gadgets.get("big")["spec"]["extra"]["blob"]) == len(big)


def test_every_page_of_a_list_carries_the_first_pages_resource_version(gadgets: Gadgets) -> None:
    # A client watches from the listing's version (kopf takes the last page's): a version newer
    # than the first page would skip what changed while it paged, an object created meanwhile.
    for index in range(3):
        gadgets.make(f"g{index}")
    first = gadgets.list(limit=2)
    gadgets.make("late")
    second = gadgets.list(limit=2, _continue=first["metadata"]["continue"])
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
