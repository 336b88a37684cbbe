"""Patch documents as the API server applies them: JSON merge patch and JSON patch."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

Json = dict[str, Any]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


class PatchTestFailed(ValueError):
    """A JSON-patch ``test`` operation did not hold."""


class PatchInvalid(ValueError):
    """The patch document cannot be applied to the object."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: Json = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Json, operations: list[Json]) -> Json:
    """RFC 6902 through the ``jsonpatch`` library, its errors mapped to the API server's."""
    try:
        result: Json = jsonpatch.apply_patch(target, operations, in_place=False)
    except jsonpatch.JsonPatchTestFailed as error:
        raise PatchTestFailed(str(error)) from error
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as error:
        raise PatchInvalid(str(error)) from error
    return result
