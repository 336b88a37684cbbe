"""Adopting an existing image by id: observed only."""

from __future__ import annotations

from cluster import Cluster, condition, ens_image, live_images, oss, unique

from ens_image_operator.stack import LocalStack


def test_an_adopted_existing_image_becomes_ready(cluster: Cluster) -> None:
    source = unique("src")
    cluster.apply(ens_image(source, source=oss("web.qcow2")))
    image_id = cluster.wait_condition("ensimage", source, "Ready")["status"]["imageId"]
    adopted = unique("adopted")
    cluster.apply(ens_image(adopted, imageId=image_id))
    assert cluster.wait_condition("ensimage", adopted, "Ready")["status"]["imageId"] == image_id


def test_adopting_a_missing_image_stalls_as_not_found(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("ghost")
    cluster.apply(ens_image(name, imageId="m-doesnotexist"))
    stalled = condition(cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and stalled["reason"] == "NotFound"
    assert live_images(stack, name) == []  # adoption never imports
