"""``x-kubernetes-validations``: CEL rules of a CRD schema, evaluated with cel-python.

As in the API server: ``self`` is the value at the node declaring the rule; a rule that
mentions ``oldSelf`` is a transition rule, evaluated only on update when the old value exists
at the same place (unless ``optionalOldSelf`` is set).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from ens_image_kit.sandbox.schema import Cause, Json, json_type_name, list_map_key

_OLD_SELF = re.compile(r"\boldSelf\b")
_MISSING = object()


@lru_cache(maxsize=1024)
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression))


def _evaluate(expression: str, activation: dict[str, Any]) -> Any:
    # celpy raises for some evaluation errors and returns a CELEvalError value for others.
    result = _program(expression).evaluate(activation)
    if isinstance(result, CELEvalError):
        raise result
    return result


def _message(rule: Json, activation: dict[str, Any]) -> str:
    if "messageExpression" in rule:
        try:
            text = _evaluate(rule["messageExpression"], activation)
            if isinstance(text, str) and text.strip():
                return str(text)
        except Exception:  # noqa: S110 - the API server falls back to message, so do we
            pass
    if rule.get("message"):
        return str(rule["message"])
    return f"failed rule: {rule['rule']}"


def _join(path: str, field_path: str) -> str:
    if not field_path:
        return path
    if field_path.startswith("."):
        return f"{path}{field_path}" if path else field_path[1:]
    return f"{path}.{field_path}" if path else field_path


def _wording(reason: str, value: Any, message: str) -> str:
    if reason == "FieldValueForbidden":
        return f"Forbidden: {message}"
    if reason == "FieldValueRequired":
        return f"Required value: {message}"
    if reason == "FieldValueDuplicate":
        return f'Duplicate value: "{json_type_name(value)}": {message}'
    return f'Invalid value: "{json_type_name(value)}": {message}'


def check_rules(value: Any, schema: Json, old: Any = _MISSING, path: str = "") -> list[Cause]:
    """Evaluate every CEL rule in ``schema`` against ``value`` (and ``old`` on update)."""
    causes: list[Cause] = []
    if value is None:
        return causes
    rules: list[Json] = schema.get("x-kubernetes-validations", [])
    if rules:
        activation: dict[str, Any] = {"self": json_to_cel(value)}
        if old is not _MISSING and old is not None:
            activation["oldSelf"] = json_to_cel(old)
        for rule in rules:
            expression = rule["rule"]
            if _OLD_SELF.search(expression) and "oldSelf" not in activation:
                if not rule.get("optionalOldSelf"):
                    continue
                activation["oldSelf"] = json_to_cel(None)
            field = _join(path, rule.get("fieldPath", ""))
            reason = rule.get("reason", "FieldValueInvalid")
            try:
                ok = _evaluate(expression, activation)
            except Exception as error:  # an evaluation error rejects the request, as upstream
                wording = (
                    f'Invalid value: "{json_type_name(value)}": {error.args[0] if error.args else error}'
                )
                causes.append(Cause("FieldValueInvalid", wording, field))
                continue
            if not bool(ok):
                causes.append(Cause(reason, _wording(reason, value, _message(rule, activation)), field))
    causes += _check_children(value, schema, old, path)
    return causes


def _check_children(value: Any, schema: Json, old: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if isinstance(value, dict):
        props: Json = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for key, item in value.items():
            if path == "" and key == "metadata":
                continue
            sub = props.get(key, additional if isinstance(additional, dict) else None)
            if sub is None:
                continue
            child_path = f"{path}.{key}" if path else key
            causes += check_rules(item, sub, old_map.get(key, _MISSING), child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        # Only the items of map-type lists have an old value: the one with the same keys.
        old_items: dict[Any, Any] = {}
        keys: list[str] = schema.get("x-kubernetes-list-map-keys", [])
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            for old_item in old:
                identity = list_map_key(old_item, keys)
                if identity is not None:
                    old_items[identity] = old_item
        for index, item in enumerate(value):
            before = old_items.get(list_map_key(item, keys), _MISSING) if old_items else _MISSING
            causes += check_rules(item, schema["items"], before, f"{path}[{index}]")
    return causes
