"""Crashes, lost answers, throttling and server errors: the operator still converges, one image each."""

from __future__ import annotations

from typing import Any

from cluster import Cluster, ens_image, live_images, oss, unique
from ens_image_kit.stack import LocalStack


def _import_calls(stack: LocalStack) -> int:
    calls: dict[str, Any] = stack.admin("GET", "calls")  # type: ignore[assignment]
    return int(sum((calls.get("ImportImage") or {}).values()))


def _intent_recorded(body: dict[str, Any] | None) -> bool:
    return bool(((body or {}).get("status") or {}).get("importStartedAt"))


def test_killing_the_operator_mid_import_yields_exactly_one_image(
    stack: LocalStack, cluster: Cluster
) -> None:
    name = unique("crash")
    # ENS creates the image, then takes 3 s to answer: the operator dies while waiting for the id.
    stack.admin("POST", "faults", {"action": "ImportImage", "code": None, "latency": 3.0, "after": True})
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_for("ensimage", name, _intent_recorded, what="a recorded import intent")
    stack.kill_operator()
    stack.admin("DELETE", "faults")
    stack.start_operator()
    body = cluster.wait_condition("ensimage", name, "Ready", timeout=90)
    images = live_images(stack, name)
    assert [image["ImageId"] for image in images] == [body["status"]["imageId"]]


def test_killing_the_operator_before_import_is_sent_still_imports_once(
    stack: LocalStack, cluster: Cluster
) -> None:
    name = unique("early")
    # ENS is slow to even start: the request is never processed before the operator dies.
    stack.admin("POST", "faults", {"action": "ImportImage", "code": None, "latency": 30.0})
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_for("ensimage", name, _intent_recorded, what="a recorded import intent")
    stack.kill_operator()
    stack.admin("DELETE", "faults")
    stack.start_operator()
    cluster.wait_condition("ensimage", name, "Ready", timeout=90)
    assert len(live_images(stack, name)) == 1


def test_a_lost_import_answer_is_recovered_without_a_second_import(
    stack: LocalStack, cluster: Cluster
) -> None:
    name = unique("lost")
    before = _import_calls(stack)
    stack.admin("POST", "faults", {"action": "ImportImage", "drop": True, "after": True})
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready", timeout=90)
    assert len(live_images(stack, name)) == 1
    assert _import_calls(stack) - before == 1


def test_throttling_and_server_errors_still_converge(stack: LocalStack, cluster: Cluster) -> None:
    names = [unique("flaky") for _ in range(3)]
    stack.admin("POST", "faults", {"action": "*", "rate": 0.3, "code": "Throttling.User", "status": 400})
    stack.admin("POST", "faults", {"action": "*", "rate": 0.2, "code": "ServiceUnavailable", "status": 503})
    for name in names:
        cluster.apply(ens_image(name, source=oss("web.qcow2")))
    for name in names:
        cluster.wait_condition("ensimage", name, "Ready", timeout=120)
    assert [len(live_images(stack, name)) for name in names] == [1, 1, 1]
