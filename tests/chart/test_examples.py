"""The examples are valid objects of our CRDs (schema and CEL rules) and fit together."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml
from chart_tools import CHART, REPO

from ens_image_operator import API_VERSION
from ens_image_operator.settings import Settings

EXAMPLES = REPO / "examples"
CUSTOM_EXAMPLES = [
    "ensimage-import.yaml",
    "ensimage-adopt.yaml",
    "ensimageexport.yaml",
    "ensimagecatalog.yaml",
]


def load(name: str) -> dict[str, Any]:
    (doc,) = [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]
    loaded: dict[str, Any] = doc
    return loaded


def crd_schemas() -> dict[str, dict[str, Any]]:
    """kind -> openAPIV3Schema of the served version, from the repository's crds/."""
    schemas = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        (version,) = [
            v for v in crd["spec"]["versions"] if f"{crd['spec']['group']}/{v['name']}" == API_VERSION
        ]
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def cel_rules(
    schema: dict[str, Any], value: Any, path: str = ""
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Every x-kubernetes-validations rule that applies to a value present in the object."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule, value
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                yield from cel_rules(sub, value[key], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from cel_rules(schema["items"], item, f"{path}[{index}]")


def admission_errors(obj: dict[str, Any]) -> list[str]:
    """What the API server would refuse on create: schema violations and failing CEL rules."""
    schema = crd_schemas()[obj["kind"]]
    errors = [error.message for error in jsonschema.Draft7Validator(schema).iter_errors(obj)]
    environment = celpy.Environment()
    for path, rule, value in cel_rules(schema, obj):
        if "oldSelf" in rule["rule"]:  # transition rules only run on update
            continue
        program = environment.program(environment.compile(rule["rule"]))
        if not program.evaluate({"self": celpy.json_to_cel(value)}):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    return errors


def test_every_example_is_listed_here() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.yaml")) == sorted(
        [*CUSTOM_EXAMPLES, "credentials-secret.yaml"]
    )


@pytest.mark.parametrize("name", CUSTOM_EXAMPLES)
def test_example_is_admitted_by_its_crd(name: str) -> None:
    obj = load(name)
    assert obj["apiVersion"] == API_VERSION
    assert admission_errors(obj) == []


@pytest.mark.parametrize("name", CUSTOM_EXAMPLES)
def test_example_is_commented(name: str) -> None:
    assert (EXAMPLES / name).read_text().startswith("# ")


def test_admission_check_refuses_an_image_with_both_source_and_id() -> None:
    # The checker itself must be able to say no, or the tests above prove nothing.
    obj = copy.deepcopy(load("ensimage-import.yaml"))
    obj["spec"]["imageId"] = "m-5c2a0d3e9f"
    assert any("exactly one of spec.source" in error for error in admission_errors(obj))


def test_admission_check_refuses_a_bad_oss_prefix() -> None:
    obj = copy.deepcopy(load("ensimageexport.yaml"))
    obj["spec"]["ossPrefix"] = "not/allowed"
    assert admission_errors(obj)


def test_export_example_refers_to_the_import_example() -> None:
    assert (
        load("ensimageexport.yaml")["spec"]["imageRef"]["name"]
        == load("ensimage-import.yaml")["metadata"]["name"]
    )


def test_adopt_example_adopts_and_import_example_imports() -> None:
    assert "imageId" in load("ensimage-adopt.yaml")["spec"]
    assert "source" not in load("ensimage-adopt.yaml")["spec"]
    assert "source" in load("ensimage-import.yaml")["spec"]


@pytest.mark.parametrize("kube_version", ["1.31.0", "1.35.0"])
def test_credentials_example_is_a_valid_secret(kube_version: str) -> None:
    kubernetes_validate.validate(load("credentials-secret.yaml"), kube_version, strict=True)


def test_credentials_example_is_found_by_default_and_holds_placeholders_only() -> None:
    secret = load("credentials-secret.yaml")
    default_name = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]["defaultSecretName"]
    assert secret["metadata"]["name"] == default_name == Settings.model_fields["default_secret_name"].default
    assert set(secret["stringData"]) == {"accessKeyId", "accessKeySecret"}
    assert all(value.startswith("REPLACE-WITH-") for value in secret["stringData"].values())
    assert "placeholder" in Path(EXAMPLES / "credentials-secret.yaml").read_text().lower()
