"""The committed CRDs are the generator's output, and have the shape Kubernetes requires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ens_image_operator.api import crdgen
from ens_image_operator.api.kinds import KINDS, Kind
from ens_image_operator.commands import crds as crds_command

CRDS_DIR = Path(__file__).resolve().parents[3] / "crds"


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, child in schema.get("properties", {}).items():
        found.extend(_walk(child, f"{path}.{name}"))
    if "items" in schema:
        found.extend(_walk(schema["items"], f"{path}[]"))
    return found


def _root_schema(kind: Kind) -> dict[str, Any]:
    schema: dict[str, Any] = crdgen.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_committed_crd_equals_generator_output(kind: Kind) -> None:
    committed = (CRDS_DIR / crdgen.file_name(kind)).read_text(encoding="utf-8")
    assert committed == crdgen.to_yaml(crdgen.crd(kind)), "run: ens-image-operator crds --output-dir crds"


def test_crds_folder_holds_exactly_one_file_per_kind() -> None:
    assert sorted(path.name for path in CRDS_DIR.glob("*.yaml")) == sorted(
        crdgen.file_name(kind) for kind in KINDS
    )


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_crd_is_a_valid_kubernetes_manifest(kind: Kind) -> None:
    kubernetes_validate.validate(crdgen.crd(kind), "1.31", strict=True)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_spec_and_status_field_has_a_description(kind: Kind) -> None:
    root = _root_schema(kind)
    for part in ("spec", "status"):
        for path, node in _walk(root["properties"][part], part):
            assert node.get("description"), f"{kind.kind} {path} has no description"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_schema_is_structural(kind: Kind) -> None:
    for path, node in _walk(_root_schema(kind)):
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        assert "type" in node, f"{kind.kind} {path} has no type"
        assert node.get("default", "") is not None, f"{kind.kind} {path} defaults to null"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_crd_is_namespaced_with_status_subresource_short_name_and_category(kind: Kind) -> None:
    spec = crdgen.crd(kind)["spec"]
    assert spec["scope"] == "Namespaced"
    assert spec["versions"][0]["subresources"] == {"status": {}}
    assert spec["names"]["shortNames"] == list(kind.short_names)
    assert spec["names"]["categories"] == ["ens"]


def test_ens_image_columns_show_image_id_status_ready_and_age() -> None:
    columns = crdgen.crd(KINDS[0])["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [column["name"].upper() for column in columns] == ["IMAGE-ID", "STATUS", "READY", "AGE"]


def test_catalog_refresh_interval_defaults_to_one_hour() -> None:
    spec = _root_schema(KINDS[2])["properties"]["spec"]
    assert spec["properties"]["refreshInterval"]["default"] == "1h"


def test_crds_command_prints_every_crd_as_multi_document_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    crds_command.main(type("Args", (), {"output_dir": None})())
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [document["metadata"]["name"] for document in documents] == [kind.crd_name for kind in KINDS]


def test_crds_command_writes_one_file_per_kind(tmp_path: Path) -> None:
    crds_command.main(type("Args", (), {"output_dir": tmp_path})())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        crdgen.file_name(kind) for kind in KINDS
    )
