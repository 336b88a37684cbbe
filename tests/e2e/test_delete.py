"""Deleting EnsImages: each deletion policy, and an image already gone from ENS."""

from __future__ import annotations

from cluster import Cluster, ens_image, live_images, oss, unique

from ens_image_operator.stack import LocalStack


def test_deleting_an_imported_image_deletes_it_in_ens(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("del")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready")
    cluster.kubectl("delete", "ensimage", name, "--wait=false")
    cluster.wait_gone("ensimage", name)
    assert live_images(stack, name) == []


def test_retain_policy_keeps_the_image_in_ens(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("keep")
    cluster.apply(ens_image(name, source=oss("web.qcow2"), deletionPolicy="Retain"))
    image_id = cluster.wait_condition("ensimage", name, "Ready")["status"]["imageId"]
    cluster.kubectl("delete", "ensimage", name, "--wait=false")
    cluster.wait_gone("ensimage", name)
    assert [image["ImageId"] for image in live_images(stack, name)] == [image_id]


def test_switching_to_retain_before_deleting_keeps_the_image(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("switch")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready")
    cluster.kubectl("patch", "ensimage", name, "--type=merge", "-p", '{"spec":{"deletionPolicy":"Retain"}}')
    cluster.kubectl("delete", "ensimage", name, "--wait=false")
    cluster.wait_gone("ensimage", name)
    assert len(live_images(stack, name)) == 1


def test_deleting_an_adopted_image_retains_it_by_default(stack: LocalStack, cluster: Cluster) -> None:
    source, adopted = unique("src"), unique("adopted")
    cluster.apply(ens_image(source, source=oss("web.qcow2"), deletionPolicy="Retain"))
    image_id = cluster.wait_condition("ensimage", source, "Ready")["status"]["imageId"]
    cluster.apply(ens_image(adopted, imageId=image_id))
    cluster.wait_condition("ensimage", adopted, "Ready")
    cluster.kubectl("delete", "ensimage", adopted, "--wait=false")
    cluster.wait_gone("ensimage", adopted)
    assert len(live_images(stack, source)) == 1


def test_an_image_already_deleted_in_ens_releases_the_object(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("gone")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    cluster.wait_condition("ensimage", name, "Ready")
    # The same image adopted with deletionPolicy Delete: two objects, one image, both delete it.
    image_id = cluster.get("ensimage", name)["status"]["imageId"]  # type: ignore[index]
    twin = unique("twin")
    cluster.apply(ens_image(twin, imageId=image_id, deletionPolicy="Delete"))
    cluster.wait_condition("ensimage", twin, "Ready")
    cluster.kubectl("delete", "ensimage", twin, "--wait=false")
    cluster.wait_gone("ensimage", twin)
    cluster.kubectl("delete", "ensimage", name, "--wait=false")
    cluster.wait_gone("ensimage", name)
    assert live_images(stack, name) == []
