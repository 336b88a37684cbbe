"""Build CustomResourceDefinitions from the pydantic models.

Kubernetes wants structural schemas: no $ref, no anyOf for optional fields, no titles. Pydantic's JSON
Schema is rewritten accordingly: references inlined, ``X | None`` collapsed to ``X`` (a null sent by a
client is then pruned by the API server), the ``null`` defaults of optional fields dropped.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ens_image_operator.api.kinds import KINDS, Kind

# Keys of pydantic's output that mean nothing to Kubernetes' OpenAPI v3 subset.
_DROPPED_KEYS = frozenset({"title", "$defs", "additionalProperties"})


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[-1]])
        # Keys next to the $ref (description, default) describe this use and win over the target's.
        target.update(node)
        node = target
    if "anyOf" in node:
        options = [option for option in node.pop("anyOf") if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express a union of {len(options)} types structurally")
        merged = dict(options[0])
        merged.update(node)
        node = merged
        if "$ref" in node:
            return _resolve(node, defs)
    if node.get("default", 0) is None:
        del node["default"]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            out[key] = {name: _resolve(child, defs) for name, child in value.items()}
        elif key in ("items", "x-kubernetes-validations"):
            out[key] = _resolve(value, defs)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def structural_schema(model: type[Any]) -> dict[str, Any]:
    """The OpenAPI v3 schema of one model, in the structural form Kubernetes accepts."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = _resolve(raw, raw.get("$defs", {}))
    return schema


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    spec_schema = structural_schema(kind.spec)
    spec_schema["description"] = (kind.spec.__doc__ or "").strip()
    status_schema = structural_schema(kind.status)
    status_schema["description"] = (kind.status.__doc__ or "").strip()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": kind.group,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(column) for column in kind.columns],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": "APIVersion defines the versioned schema of this object.",
                                },
                                "kind": {
                                    "type": "string",
                                    "description": "Kind is the REST resource this object represents.",
                                },
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """The CRDs of every kind, in a stable order."""
    return [crd(kind) for kind in KINDS]


def to_yaml(document: dict[str, Any]) -> str:
    """One CRD as YAML, byte-stable across runs."""
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return text


def render_all() -> str:
    """Every CRD as one multi-document YAML stream."""
    return "".join(f"---\n{to_yaml(document)}" for document in all_crds())


def file_name(kind: Kind) -> str:
    """The file a kind's CRD is written to: ``<plural>.<group>.yaml``."""
    return f"{kind.crd_name}.yaml"


def write_all(directory: Path) -> list[Path]:
    """Write one file per CRD into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / file_name(kind)
        path.write_text(to_yaml(crd(kind)), encoding="utf-8")
        written.append(path)
    return written
