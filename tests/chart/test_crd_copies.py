"""The chart and the kustomize base ship exactly the generated CRDs of the repository's crds/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from chart_tools import CHART, MANIFESTS, REPO

SYNC_HINT = (
    "regenerate and re-sync with `make crds`, i.e. "
    "`cp crds/*.yaml helm/ens-image-operator/crds/ && cp crds/*.yaml manifests/crds/`"
)
COPIES = {"chart": CHART / "crds", "kustomize": MANIFESTS / "crds"}


def crd_files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.ens.image-operator.io.yaml"))}


def test_repository_has_the_three_generated_crds() -> None:
    assert sorted(crd_files(REPO / "crds")) == [
        "ensimagecatalogs.ens.image-operator.io.yaml",
        "ensimageexports.ens.image-operator.io.yaml",
        "ensimages.ens.image-operator.io.yaml",
    ]


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_copy_holds_the_same_crd_files(copy: str) -> None:
    source, target = crd_files(REPO / "crds"), crd_files(COPIES[copy])
    assert sorted(target) == sorted(source), (
        f"{COPIES[copy].relative_to(REPO)} differs from crds/: {SYNC_HINT}"
    )


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_copy_is_byte_identical(copy: str) -> None:
    source, target = crd_files(REPO / "crds"), crd_files(COPIES[copy])
    stale = sorted(name for name in source if target.get(name) != source[name])
    assert not stale, f"{', '.join(stale)} in {COPIES[copy].relative_to(REPO)} differ from crds/: {SYNC_HINT}"


def test_kustomize_crd_list_names_every_copy() -> None:
    listed = yaml.safe_load((MANIFESTS / "crds" / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(crd_files(REPO / "crds"))


def test_kopf_peering_crds_let_kopf_write_status_through_the_main_resource() -> None:
    # kopf patches the peering object's .status on the object itself: a status subresource would
    # silently drop every heartbeat, and a schema without preserved status would prune it.
    crds = list(yaml.safe_load_all((CHART / "crds" / "kopf" / "peering.kopf.dev.yaml").read_text()))
    assert sorted(crd["metadata"]["name"] for crd in crds) == [
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    ]
    for crd in crds:
        (version,) = crd["spec"]["versions"]
        assert "subresources" not in version
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True
