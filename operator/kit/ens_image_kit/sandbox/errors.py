"""API errors rendered as ``kind: Status`` bodies worded like the API server's."""

from __future__ import annotations

from typing import Any

from ens_image_kit.sandbox.registry import ResourceType
from ens_image_kit.sandbox.schema import Cause

Json = dict[str, Any]


class ApiError(Exception):
    """An error response: HTTP code, Status reason, message and optional details."""

    def __init__(self, code: int, reason: str, message: str, details: Json | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Json:
        body: Json = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(rtype: ResourceType, name: str) -> Json:
    details: Json = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return details


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.group_resource} "{name}" not found', _details(rtype, name))


def already_exists(rtype: ResourceType, name: str) -> ApiError:
    message = f'{rtype.group_resource} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(rtype, name))


def conflict(rtype: ResourceType, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    message = f'Operation cannot be fulfilled on {rtype.group_resource} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(rtype, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(rtype: ResourceType, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid, one cause per field error, the message joining them as the API server does."""
    joined = str(causes[0]) if len(causes) == 1 else "[" + ", ".join(str(c) for c in causes) + "]"
    message = f'{rtype.group_kind} "{name}" is invalid: {joined}'
    details: Json = {"name": name, "kind": rtype.kind, "causes": [c.as_json() for c in causes]}
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(422, "Invalid", message, details)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)
