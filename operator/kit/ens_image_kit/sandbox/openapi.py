"""OpenAPI v3 documents built from the CRD schemas, enough for ``kubectl apply`` and ``explain``.

kubectl looks for the ``fieldValidation`` query parameter on each kind's PATCH operation; finding
it, it leaves validation to the server (``?fieldValidation=Strict``), which this API performs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from ens_image_kit.sandbox.registry import Registry, ResourceType

Json = dict[str, Any]

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_META_SCHEMA: Json = {
    "description": "Standard object metadata.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {"type": "string", "description": "Prefix for a server-generated name."},
        "namespace": {"type": "string", "description": "The namespace of the object."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
}


def _schema_name(rtype: ResourceType) -> str:
    reversed_group = ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    return f"{reversed_group}.{rtype.version}.{rtype.kind}"


def _schema(rtype: ResourceType) -> Json:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    if rtype.schema is not None:
        schema = copy.deepcopy(rtype.schema)
    else:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string", "description": "APIVersion of this object."})
    props.setdefault("kind", {"type": "string", "description": "Kind of this object."})
    props["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{_OBJECT_META}"}]}
    schema["x-kubernetes-group-version-kind"] = [gvk]
    return schema


def _operation(rtype: ResourceType, action: str, verb: str) -> Json:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    ref = {"$ref": f"#/components/schemas/{_schema_name(rtype)}"}
    params = [
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    ]
    return {
        "operationId": f"{verb}{rtype.kind}",
        "parameters": params if action in ("patch", "put", "post") else [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }


def _paths(rtype: ResourceType) -> Json:
    prefix = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    scope = f"{prefix}/namespaces/{{namespace}}" if rtype.namespaced else prefix
    collection = f"{scope}/{rtype.plural}"
    item = f"{collection}/{{name}}"
    paths: Json = {
        collection: {"get": _operation(rtype, "list", "list"), "post": _operation(rtype, "post", "create")},
        item: {
            "get": _operation(rtype, "get", "read"),
            "put": _operation(rtype, "put", "replace"),
            "patch": _operation(rtype, "patch", "patch"),
            "delete": _operation(rtype, "delete", "delete"),
        },
    }
    if rtype.status_subresource:
        paths[f"{item}/status"] = {
            "get": _operation(rtype, "get", "readStatus"),
            "put": _operation(rtype, "put", "replaceStatus"),
            "patch": _operation(rtype, "patch", "patchStatus"),
        }
    return paths


def group_version_path(rtype: ResourceType) -> str:
    return f"apis/{rtype.group}/{rtype.version}" if rtype.group else f"api/{rtype.version}"


def document(registry: Registry, gv_path: str) -> Json | None:
    """The OpenAPI v3 document of one group/version (``api/v1`` or ``apis/G/V``)."""
    types = [t for t in registry if group_version_path(t) == gv_path]
    if not types:
        return None
    paths: Json = {}
    schemas: Json = {_OBJECT_META: _META_SCHEMA}
    for rtype in types:
        paths.update(_paths(rtype))
        schemas[_schema_name(rtype)] = _schema(rtype)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def index(registry: Registry) -> Json:
    """``/openapi/v3``: where each group/version's document lives, with a content hash."""
    paths: Json = {}
    for gv_path in sorted({group_version_path(t) for t in registry}):
        doc = document(registry, gv_path)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={digest}"}
    return {"paths": paths}
