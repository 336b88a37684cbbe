"""Evaluate a CRD's x-kubernetes-validations the way the API server does, with cel-python."""

from __future__ import annotations

from typing import Any

import celpy

from ens_image_operator.api import crdgen
from ens_image_operator.api.kinds import Kind

_ENV = celpy.Environment()


def spec_rules(kind: Kind) -> list[dict[str, str]]:
    root = crdgen.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rules: list[dict[str, str]] = root["properties"]["spec"].get("x-kubernetes-validations", [])
    return rules


def violations(kind: Kind, spec: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """Messages of the spec-level rules the object breaks; transition rules only run on updates."""
    broken = []
    for rule in spec_rules(kind):
        uses_old = "oldSelf" in rule["rule"]
        if uses_old and old is None:
            continue
        activation = {"self": celpy.json_to_cel(spec)}
        if uses_old:
            activation["oldSelf"] = celpy.json_to_cel(old)
        if not bool(_ENV.program(_ENV.compile(rule["rule"])).evaluate(activation)):
            broken.append(rule["message"])
    return broken
