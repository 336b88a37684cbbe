"""Structural-schema admission as the API server does it for custom resources.

The order is the API server's: prune unknown fields, apply defaults, then validate types and
constraints. ``x-kubernetes-validations`` (CEL) live in ``cel_rules``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Json = dict[str, Any]

# Fields every object has whatever its schema says.
_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


@dataclass(frozen=True)
class Cause:
    """One reason a request is invalid, in the shape of ``Status.details.causes[]``."""

    reason: str
    message: str
    field: str

    def as_json(self) -> Json:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def json_type_name(value: Any) -> str:
    """The type name the API server shows for a value in ``Invalid value: "<type>"``."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def shown(value: Any) -> str:
    """A value as it is quoted in an error message."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict | list):
        return json.dumps(json_type_name(value))
    return json.dumps(value)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------------------------------------
# pruning


def prune(value: Any, schema: Json, path: str = "", *, root: bool = True) -> list[str]:
    """Drop fields the schema does not know (in place); return their paths."""
    dropped: list[str] = []
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
            return dropped
        props: Json = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        for key in list(value):
            if root and key in _ROOT_FIELDS:
                continue  # ObjectMeta has its own rules; apiVersion and kind always stay
            child_path = _child(path, key)
            if key in props:
                sub = props[key]
                if value[key] is None and not sub.get("nullable"):
                    del value[key]  # the API server drops nulls of non-nullable fields
                    continue
                dropped += prune(value[key], sub, child_path, root=False)
            elif isinstance(additional, dict):
                dropped += prune(value[key], additional, child_path, root=False)
            elif additional is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                continue
            else:
                del value[key]
                dropped.append(child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            dropped += prune(item, schema["items"], f"{path}[{index}]", root=False)
    return dropped


# ---------------------------------------------------------------------------------------------
# defaulting


def apply_defaults(value: Any, schema: Json) -> None:
    """Fill in ``default`` values (in place), nested defaults included, as the API server does."""
    if isinstance(value, dict):
        props: Json = schema.get("properties", {})
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                apply_defaults(value[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in props:
                    apply_defaults(value[key], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


# ---------------------------------------------------------------------------------------------
# validation


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _type_ok(value: Any, schema: Json) -> bool:
    if value is None:
        return bool(schema.get("nullable"))
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    expected = schema.get("type")
    if expected is None:
        return True
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    return True


def validate(value: Any, schema: Json, path: str = "") -> list[Cause]:
    """All the ways ``value`` breaks ``schema``, worded like the API server's field errors."""
    causes: list[Cause] = []
    if not _type_ok(value, schema):
        expected = "string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        actual = json_type_name(value)
        message = f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"'
        return [Cause("FieldValueTypeMismatch", message, path)]
    if value is None:
        return causes

    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(shown(v) for v in schema["enum"])
        message = f"Unsupported value: {shown(value)}: supported values: {supported}"
        causes.append(Cause("FieldValueNotSupported", message, path))

    if isinstance(value, str):
        causes += _validate_string(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        causes += _validate_number(value, schema, path)
    elif isinstance(value, list):
        causes += _validate_array(value, schema, path)
    elif isinstance(value, dict):
        causes += _validate_object(value, schema, path)
    return causes


def _validate_string(value: str, schema: Json, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        message = f"Too long: may not be more than {schema['maxLength']} bytes"
        causes.append(Cause("FieldValueTooLong", message, path))
    if "minLength" in schema and len(value) < schema["minLength"]:
        low = schema["minLength"]
        message = f"Invalid value: {shown(value)}: {path} in body should be at least {low} chars long"
        causes.append(Cause("FieldValueInvalid", message, path))
    if "pattern" in schema and not _compiled(schema["pattern"]).search(value):
        message = f"Invalid value: {shown(value)}: {path} in body should match '{schema['pattern']}'"
        causes.append(Cause("FieldValueInvalid", message, path))
    return causes


def _validate_number(value: float, schema: Json, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if "minimum" in schema:
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") is True and value == low):
            relation = (
                "greater than" if schema.get("exclusiveMinimum") is True else "greater than or equal to"
            )
            message = f"Invalid value: {shown(value)}: {path} in body should be {relation} {low}"
            causes.append(Cause("FieldValueInvalid", message, path))
    if "maximum" in schema:
        high = schema["maximum"]
        if value > high or (schema.get("exclusiveMaximum") is True and value == high):
            relation = "less than" if schema.get("exclusiveMaximum") is True else "less than or equal to"
            message = f"Invalid value: {shown(value)}: {path} in body should be {relation} {high}"
            causes.append(Cause("FieldValueInvalid", message, path))
    return causes


def _validate_array(value: list[Any], schema: Json, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        message = f"Too many: {len(value)}: must have at most {schema['maxItems']} items"
        causes.append(Cause("FieldValueTooMany", message, path))
    if "minItems" in schema and len(value) < schema["minItems"]:
        message = (
            f"Invalid value: {len(value)}: {path} in body should have at least {schema['minItems']} items"
        )
        causes.append(Cause("FieldValueInvalid", message, path))
    causes += _validate_list_type(value, schema, path)
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            causes += validate(item, items, f"{path}[{index}]")
    return causes


def list_map_key(item: Any, keys: list[str]) -> tuple[Any, ...] | None:
    """The identity of an item of an ``x-kubernetes-list-type: map`` list (None if not an object)."""
    if not isinstance(item, dict):
        return None
    return tuple(json.dumps(item.get(key), sort_keys=True) for key in keys)


def _go_map(item: Json, keys: list[str]) -> str:
    # The API server prints a duplicate map key the way Go formats a map[string]interface{}.
    inner = ", ".join(f"{json.dumps(key)}:{json.dumps(item.get(key))}" for key in keys)
    return f"map[string]interface {{}}{{{inner}}}"


def _validate_list_type(value: list[Any], schema: Json, path: str) -> list[Cause]:
    list_type = schema.get("x-kubernetes-list-type")
    causes: list[Cause] = []
    seen: set[Any] = set()
    if list_type == "set":
        for index, item in enumerate(value):
            identity = json.dumps(item, sort_keys=True)
            if identity in seen:
                causes.append(
                    Cause("FieldValueDuplicate", f"Duplicate value: {shown(item)}", f"{path}[{index}]")
                )
            seen.add(identity)
    elif list_type == "map":
        keys: list[str] = schema.get("x-kubernetes-list-map-keys", [])
        for index, item in enumerate(value):
            key = list_map_key(item, keys)
            if key is None:
                continue
            if key in seen:
                message = f"Duplicate value: {_go_map(item, keys)}"
                causes.append(Cause("FieldValueDuplicate", message, f"{path}[{index}]"))
            seen.add(key)
    return causes


def _validate_object(value: Json, schema: Json, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for name in schema.get("required", []):
        if name not in value:
            causes.append(Cause("FieldValueRequired", "Required value", _child(path, name)))
    props: Json = schema.get("properties", {})
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        message = f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"
        causes.append(Cause("FieldValueTooMany", message, path))
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in props:
            if path == "" and key == "metadata":
                continue  # ObjectMeta is validated on its own
            causes += validate(item, props[key], _child(path, key))
        elif isinstance(additional, dict):
            causes += validate(item, additional, _child(path, key))
    return causes
