"""Server-side ``Table`` rendering for ``kubectl get`` (``Accept: ...;as=Table``).

Custom resources get NAME plus the CRD's ``additionalPrinterColumns`` (or NAME and AGE when it
declares none), as the API server does; built-in kinds get NAME and AGE.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

from ens_image_kit.sandbox.registry import ResourceType

Json = dict[str, Any]

_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]|\[(\*|-?\d+)\]"
)
_AGE_COLUMN: Json = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def json_path(obj: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset printer columns use: ``.a.b``, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.removeprefix("$")
    current: list[Any] = [obj]
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            return []
        position = match.end()
        key, filter_key, filter_value, index = match.groups()
        following: list[Any] = []
        for value in current:
            if key is not None and isinstance(value, dict) and key in value:
                following.append(value[key])
            elif filter_key is not None and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and str(_dig(item, filter_key)) == filter_value:
                        following.append(item)
            elif index == "*" and isinstance(value, list | dict):
                following.extend(value if isinstance(value, list) else value.values())
            elif index is not None and index != "*" and isinstance(value, list):
                number = int(index)
                if -len(value) <= number < len(value):
                    following.append(value[number])
        current = following
    return current


def _dig(obj: Json, dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def human_duration(seconds: float) -> str:
    """An age the way kubectl prints it (``45s``, ``3m20s``, ``5h``, ``2d3h``)."""
    if seconds < -1:
        return "<invalid>"
    total = max(int(seconds), 0)
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        rest = total % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return f"{hours // 24 // 365}y{(hours // 24) % 365}d"
    return f"{hours // 24 // 365}y"


def _age(timestamp: Any, now: dt.datetime) -> str:
    if not isinstance(timestamp, str):
        return "<unknown>"
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((now - then).total_seconds())


def _cell(obj: Json, column: Json, now: dt.datetime) -> Any:
    values = json_path(obj, column.get("jsonPath", ""))
    if not values:
        return None
    value = values[0]
    if "joinWith" in column:  # built-in tables only: "kind/name" as kubectl shows event objects
        rest = json_path(obj, column["joinWith"])
        return f"{str(value).lower()}/{rest[0]}" if rest else value
    kind = column.get("type", "string")
    if kind == "date":
        return _age(value, now)
    if kind in ("integer", "number", "boolean") and isinstance(value, int | float | bool):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value if isinstance(value, str) else json.dumps(value)


def _columns(rtype: ResourceType) -> list[Json]:
    if rtype.printer_columns:
        return list(rtype.printer_columns)
    return [_AGE_COLUMN]


def render_table(rtype: ResourceType, objects: Iterable[Json], resource_version: str, *, full: bool) -> Json:
    """A ``meta.k8s.io/v1`` Table; rows carry the whole object or only its metadata."""
    now = dt.datetime.now(dt.UTC)
    columns = _columns(rtype)
    definitions: list[Json] = [
        # kubectl shows events without their (generated) names unless -o wide, like upstream
        {"name": "Name", "type": "string", "format": "name", "priority": 1 if rtype.kind == "Event" else 0,
         "description": "Name must be unique within a namespace."},
    ]  # fmt: skip
    for column in columns:
        definitions.append(
            {
                "name": column["name"],
                "type": "string" if column.get("type") == "date" else column.get("type", "string"),
                "format": column.get("format", ""),
                "description": column.get("description", ""),
                "priority": column.get("priority", 0),
            }
        )
    rows: list[Json] = []
    for obj in objects:
        meta = obj.get("metadata", {})
        embedded: Json = (
            obj
            if full
            else {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
        )
        cells = [meta.get("name")] + [_cell(obj, column, now) for column in columns]
        rows.append({"cells": cells, "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
