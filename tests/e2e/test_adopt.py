"""Adopting an existing image by id: observed only."""

from __future__ import annotations

from cluster import Cluster, condition, ens_image, live_images, oss, unique, unmanaged_image
from ens_image_kit.stack import LocalStack


def test_an_adopted_existing_image_becomes_ready(cluster: Cluster) -> None:
    image_id = unmanaged_image(cluster)
    adopted = unique("adopted")
    cluster.apply(ens_image(adopted, imageId=image_id))
    assert cluster.wait_condition("ensimage", adopted, "Ready")["status"]["imageId"] == image_id


def test_adopting_a_missing_image_stalls_as_not_found(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("ghost")
    cluster.apply(ens_image(name, imageId="m-doesnotexist"))
    stalled = condition(cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and stalled["reason"] == "NotFound"
    assert live_images(stack, name) == []  # adoption never imports


def test_adopting_an_image_another_ensimage_manages_is_stalled_naming_it(
    stack: LocalStack, cluster: Cluster
) -> None:
    owner, latecomer = unique("owner"), unique("late")
    cluster.apply(ens_image(owner, source=oss("web.qcow2")))
    image_id = cluster.wait_condition("ensimage", owner, "Ready")["status"]["imageId"]
    cluster.apply(ens_image(latecomer, imageId=image_id, deletionPolicy="Delete"))
    stalled = condition(cluster.wait_condition("ensimage", latecomer, "Stalled"), "Stalled")
    assert stalled is not None and stalled["reason"] == "AlreadyManaged"
    assert f"{cluster.namespace}/{owner}" in stalled["message"]
    cluster.kubectl("delete", "ensimage", latecomer, "--wait=false")
    cluster.wait_gone("ensimage", latecomer)
    assert len(live_images(stack, owner)) == 1, "a latecomer's Delete policy deleted the owner's image"


def test_importing_under_a_name_another_ensimage_imports_is_stalled(cluster: Cluster) -> None:
    first, second = unique("first"), unique("second")
    name = unique("shared-name")
    cluster.apply(ens_image(first, source=oss("web.qcow2"), imageName=name))
    cluster.wait_condition("ensimage", first, "Ready")
    cluster.apply(ens_image(second, source=oss("web.qcow2"), imageName=name))
    stalled = condition(cluster.wait_condition("ensimage", second, "Stalled"), "Stalled")
    assert stalled is not None and stalled["reason"] == "ImageNameInUse"
    assert f"{cluster.namespace}/{first}" in stalled["message"]
