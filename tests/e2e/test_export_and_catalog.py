"""Exporting an imported image to OSS, and the public image catalogue."""

from __future__ import annotations

from typing import Any

from cluster import API_VERSION, Cluster, condition, ens_image, oss, unique


def _export(name: str, **spec: Any) -> dict[str, Any]:
    body = {"ossBucket": "exports", "ossRegionId": "cn-beijing", **spec}
    return {"apiVersion": API_VERSION, "kind": "EnsImageExport", "metadata": {"name": name}, "spec": body}


def _catalog(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "EnsImageCatalog", "metadata": {"name": name}, "spec": spec}


def test_an_export_created_with_its_image_waits_then_publishes_the_url(cluster: Cluster) -> None:
    image, export = unique("src"), unique("exp")
    cluster.apply(_export(export, imageRef={"name": image}, ossPrefix="web"))
    cluster.apply(ens_image(image, source=oss("web.qcow2")))
    body = cluster.wait_condition("ensimageexport", export, "Ready")
    status = body["status"]
    assert status["exportStatus"] == "Exported" and status["exportedImageURL"]
    assert status["imageId"] == cluster.get("ensimage", image)["status"]["imageId"]  # type: ignore[index]
    assert status["startedAt"] <= status["completedAt"]


def test_an_export_of_a_missing_image_reference_keeps_waiting(cluster: Cluster) -> None:
    export = unique("orphan")
    cluster.apply(_export(export, imageRef={"name": "nowhere"}))
    body = cluster.wait_for(
        "ensimageexport",
        export,
        lambda body: (condition(body, "Reconciling") or {}).get("reason") == "WaitingForImage",
        what="WaitingForImage",
    )
    assert (condition(body, "Ready") or {}).get("status") == "False"


def test_the_catalogue_lists_the_public_images(cluster: Cluster) -> None:
    name = unique("all")
    cluster.apply(_catalog(name))
    status = cluster.wait_condition("ensimagecatalog", name, "Ready")["status"]
    assert status["imageCount"] == len(status["images"]) > 0
    assert status["lastRefreshTime"]


def test_the_catalogue_is_filtered_by_os_type(cluster: Cluster) -> None:
    everything, windows = unique("all"), unique("win")
    cluster.apply(_catalog(everything))
    cluster.apply(_catalog(windows, osType="windows"))
    total = cluster.wait_condition("ensimagecatalog", everything, "Ready")["status"]["imageCount"]
    status = cluster.wait_condition("ensimagecatalog", windows, "Ready")["status"]
    assert {image["osType"].lower() for image in status["images"]} == {"windows"}
    assert 0 < status["imageCount"] < total


def test_changing_the_catalogue_filter_refreshes_it_at_once(cluster: Cluster) -> None:
    name = unique("switch")
    cluster.apply(_catalog(name, osType="linux"))
    cluster.wait_condition("ensimagecatalog", name, "Ready")
    cluster.kubectl("patch", "ensimagecatalog", name, "--type=merge", "-p", '{"spec":{"osType":"windows"}}')
    body = cluster.wait_for(
        "ensimagecatalog",
        name,
        lambda body: (
            {image["osType"].lower() for image in ((body or {}).get("status") or {}).get("images", [])}
            == {"windows"}
        ),
        timeout=30,
        what="a list of Windows images",
    )
    assert body is not None
