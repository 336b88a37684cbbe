"""Invalid objects are refused at admission, with messages naming the field."""

from __future__ import annotations

from typing import Any

from cluster import API_VERSION, Cluster, ens_image, oss, unique


def _refused(cluster: Cluster, manifest: dict[str, Any]) -> str:
    result = cluster.apply(manifest, check=False)
    assert result.returncode != 0, f"accepted: {manifest}"
    return result.stderr


def test_an_invalid_image_name_is_refused(cluster: Cluster) -> None:
    message = _refused(
        cluster, ens_image(unique("bad"), imageName="1-starts-with-digit", source=oss("w.qcow2"))
    )
    assert "spec.imageName" in message


def test_an_http_url_as_image_name_is_refused(cluster: Cluster) -> None:
    message = _refused(
        cluster, ens_image(unique("url"), imageName="http://example.com/x", source=oss("w.qcow2"))
    )
    assert "spec.imageName" in message


def test_more_than_four_data_disks_are_refused(cluster: Cluster) -> None:
    disks = [oss(f"d{index}.qcow2")["oss"] for index in range(5)]
    message = _refused(cluster, ens_image(unique("disks"), source=oss("w.qcow2"), dataDisks=disks))
    assert "spec.dataDisks" in message


def test_both_source_and_image_id_are_refused(cluster: Cluster) -> None:
    message = _refused(cluster, ens_image(unique("both"), source=oss("w.qcow2"), imageId="m-1"))
    assert "exactly one of spec.source (import) or spec.imageId (adopt)" in message


def test_changing_an_import_field_is_refused_with_a_hint(cluster: Cluster) -> None:
    name = unique("immutable")
    cluster.apply(ens_image(name, source=oss("w.qcow2"), deletionPolicy="Retain"))
    result = cluster.kubectl(
        "patch",
        "ensimage",
        name,
        "--type=merge",
        "-p",
        '{"spec":{"source":{"oss":{"object":"v2.qcow2"}}}}',
        check=False,
    )
    assert result.returncode != 0
    assert "spec.source is immutable" in result.stderr and "create a new EnsImage" in result.stderr


def test_a_malformed_oss_prefix_is_refused(cluster: Cluster) -> None:
    export = {
        "apiVersion": API_VERSION,
        "kind": "EnsImageExport",
        "metadata": {"name": unique("exp")},
        "spec": {
            "imageId": "m-1",
            "ossBucket": "exports",
            "ossRegionId": "cn-beijing",
            "ossPrefix": "not-valid!",
        },
    }
    assert "spec.ossPrefix" in _refused(cluster, export)


def test_changing_an_export_is_refused(cluster: Cluster) -> None:
    name = unique("exp")
    spec = {"imageId": "m-none", "ossBucket": "exports", "ossRegionId": "cn-beijing"}
    cluster.apply(
        {"apiVersion": API_VERSION, "kind": "EnsImageExport", "metadata": {"name": name}, "spec": spec}
    )
    result = cluster.kubectl(
        "patch", "ensimageexport", name, "--type=merge", "-p", '{"spec":{"ossBucket":"other"}}', check=False
    )
    assert result.returncode != 0 and "spec is immutable" in result.stderr
