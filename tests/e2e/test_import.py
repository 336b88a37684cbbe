"""Importing an image from OSS, as a user sees it through kubectl."""

from __future__ import annotations

from cluster import Cluster, condition, ens_image, live_images, oss, unique
from ens_image_kit.stack import LocalStack


def test_an_imported_image_becomes_ready_with_its_id(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("web")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    body = cluster.wait_condition("ensimage", name, "Ready")
    status = body["status"]
    assert status["imageStatus"] == "Available" and status["imageId"].startswith("m-")
    assert status["observedGeneration"] == body["metadata"].get("generation", status["observedGeneration"])
    assert [image["ImageId"] for image in live_images(stack, name)] == [status["imageId"]]


def test_kubectl_wait_for_ready_works(cluster: Cluster) -> None:
    name = unique("wait")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    result = cluster.kubectl("wait", "--for=condition=Ready", f"ensimage/{name}", "--timeout=60s")
    assert "condition met" in result.stdout


def test_kubectl_get_shows_the_image_columns(cluster: Cluster) -> None:
    name = unique("cols")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready")
    header, row = cluster.kubectl("get", "ensimg", name).stdout.splitlines()[:2]
    assert header.split()[:4] == ["NAME", "IMAGE-ID", "STATUS", "READY"]
    assert row.split()[2:4] == ["Available", "True"]


def test_an_import_of_a_missing_object_stalls_with_import_failed(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("broken")
    stack.admin("POST", "missing", {"objects": [{"bucket": "images", "object": f"{name}.qcow2"}]})
    cluster.apply(ens_image(name, source=oss(f"{name}.qcow2")))
    body = cluster.wait_condition("ensimage", name, "Stalled")
    stalled = condition(body, "Stalled")
    assert stalled is not None and stalled["reason"] == "ImportFailed" and "Pack_failed" in stalled["message"]
    assert (condition(body, "Ready") or {}).get("status") == "False"


def test_transitions_are_posted_as_events(cluster: Cluster) -> None:
    name = unique("events")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready")
    reasons = {event.get("reason") for event in cluster.events(name)}
    assert {"Importing", "Available"} <= reasons


def test_a_ready_image_that_changes_in_ens_is_noticed_and_followed(
    stack: LocalStack, cluster: Cluster
) -> None:
    name = unique("drift")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    image_id = cluster.wait_condition("ensimage", name, "Ready")["status"]["imageId"]
    stack.admin("POST", f"images/{image_id}", {"Status": "Unavailable"})
    body = cluster.wait_condition("ensimage", name, "Ready", "False", timeout=30)
    assert body["status"]["imageStatus"] == "Unavailable"
    stack.admin("POST", f"images/{image_id}", {"Status": "Available"})
    cluster.wait_condition("ensimage", name, "Ready", timeout=30)
    reasons = [event.get("reason") for event in cluster.events(name)]
    assert "ImageNotAvailable" in reasons
