"""Deleting EnsImages: each deletion policy, and an image already gone from ENS."""

from __future__ import annotations

import asyncio
from typing import Any

from cluster import Cluster, ens_image, live_images, oss, unique, unmanaged_image
from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, LocalStack
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import StaticCredentials


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
    image_id = unmanaged_image(cluster)
    adopted = unique("adopted")
    cluster.apply(ens_image(adopted, imageId=image_id))
    cluster.wait_condition("ensimage", adopted, "Ready")
    cluster.kubectl("delete", "ensimage", adopted, "--wait=false")
    cluster.wait_gone("ensimage", adopted)
    assert image_id in {image["ImageId"] for image in live_images_by_id(stack)}


def test_an_image_already_deleted_in_ens_releases_the_object(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("gone")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    image_id = cluster.wait_condition("ensimage", name, "Ready")["status"]["imageId"]
    asyncio.run(_delete_in_ens(stack, image_id))  # deleted behind the operator's back
    cluster.kubectl("delete", "ensimage", name, "--wait=false")
    cluster.wait_gone("ensimage", name)
    assert live_images(stack, name) == []


async def _delete_in_ens(stack: LocalStack, image_id: str) -> None:
    credentials = StaticCredentials(DEFAULT_KEY_ID, DEFAULT_KEY_SECRET)
    client = EnsClient(credentials, endpoint=stack.emulator_url)
    try:
        await client.delete_image(image_id)
    finally:
        await client.aclose()


def live_images_by_id(stack: LocalStack) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = stack.admin("GET", "images")  # type: ignore[assignment]
    return [image for image in images if not image.get("DeletedAt")]
