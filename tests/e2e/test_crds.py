"""The CRDs of ``crds/`` as the API server serves them: accepted, established, explained, listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cluster import API_VERSION, Cluster, ens_image, unique
from ens_image_kit.stack import find_crds_dir

CRDS_DIR = find_crds_dir()
assert CRDS_DIR is not None
CRDS = {
    doc["spec"]["names"]["kind"]: doc
    for path in sorted(Path(CRDS_DIR).glob("*.yaml"))
    for doc in [yaml.safe_load(path.read_text(encoding="utf-8"))]
}


def _an_object_of_each_kind(cluster: Cluster) -> dict[str, str]:
    """One object of each kind in the test's namespace; kind -> name."""
    names = {"EnsImage": unique("img"), "EnsImageExport": unique("exp"), "EnsImageCatalog": unique("cat")}
    cluster.apply(ens_image(names["EnsImage"], imageId="m-crd-checks"))
    spec = {"imageId": "m-crd-checks", "ossBucket": "exports", "ossRegionId": "cn-beijing"}
    export = {"metadata": {"name": names["EnsImageExport"]}, "spec": spec}
    cluster.apply({"apiVersion": API_VERSION, "kind": "EnsImageExport", **export})
    catalog = {"metadata": {"name": names["EnsImageCatalog"]}, "spec": {}}
    cluster.apply({"apiVersion": API_VERSION, "kind": "EnsImageCatalog", **catalog})
    return names


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_each_crd_is_accepted_established_and_its_names_accepted(cluster: Cluster, kind: str) -> None:
    name = CRDS[kind]["metadata"]["name"]
    stored = json.loads(cluster.kubectl("get", "crd", name, "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in stored["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert stored["status"]["acceptedNames"] == {"listKind": f"{kind}List", **CRDS[kind]["spec"]["names"]}
    assert stored["status"]["storedVersions"] == ["v1alpha1"]


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_kubectl_explain_describes_every_spec_field(cluster: Cluster, kind: str) -> None:
    plural = CRDS[kind]["spec"]["names"]["plural"]
    schema = CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    out = cluster.kubectl("explain", f"{plural}.spec").stdout
    assert f"KIND:       {kind}" in out
    for field, field_schema in schema["properties"].items():
        assert f"  {field}\t" in out, f"{field} missing from kubectl explain"
        first_words = " ".join(field_schema["description"].split()[:3])
        assert first_words in " ".join(out.split()), f"the description of {field} is not shown"


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_kubectl_get_wide_prints_the_crd_printer_columns(cluster: Cluster, kind: str) -> None:
    names = _an_object_of_each_kind(cluster)
    plural = CRDS[kind]["spec"]["names"]["plural"]
    header = cluster.kubectl("get", plural, names[kind], "-o", "wide").stdout.splitlines()[0]
    columns = CRDS[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert header.split() == ["NAME"] + [column["name"].upper() for column in columns]


def test_kubectl_get_ens_lists_every_kind_of_the_category(cluster: Cluster) -> None:
    names = _an_object_of_each_kind(cluster)
    listed = set(cluster.kubectl("get", "ens", "-o", "name").stdout.split())
    group = API_VERSION.split("/")[0]
    assert listed == {f"{kind.lower()}.{group}/{name}" for kind, name in names.items()}
