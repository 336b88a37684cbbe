"""Admission of custom resources from their CRD schema, in the API server's order.

Prune unknown fields, apply defaults, validate the structural schema, then the CEL rules.
A write to ``/status`` is held to the status schema only; a write to the main resource to
everything but status (which it cannot change anyway).
"""

from __future__ import annotations

from ens_image_kit.sandbox import schema
from ens_image_kit.sandbox.cel_rules import check_rules
from ens_image_kit.sandbox.errors import bad_request, invalid
from ens_image_kit.sandbox.registry import ResourceType
from ens_image_kit.sandbox.schema import Cause, Json
from ens_image_kit.sandbox.times import check_times

# Schema errors after which the API server does not run the CEL rules: the object lacks the shape
# they were written for (wrong type, not in the enum, missing, too long, too many).
_BLOCKING = {
    "FieldValueTypeMismatch",
    "FieldValueNotSupported",
    "FieldValueRequired",
    "FieldValueTooLong",
    "FieldValueTooMany",
}
_RULES_NOT_CHECKED = (
    'Invalid value: "null": some validation rules were not checked because the object was invalid; '
    "correct the existing errors to complete validation"
)


def admit(
    rtype: ResourceType,
    obj: Json,
    old: Json | None,
    *,
    subresource: str | None,
    validation: str = "Warn",
) -> list[str]:
    """Prune, default and validate ``obj`` in place; return warnings; raise 400/422 ``ApiError``."""
    check_times(rtype, obj)
    if rtype.schema is None:
        return []
    name = obj.get("metadata", {}).get("name", "")
    node_schema = rtype.schema
    if subresource == "status":
        # The status subresource is held to the status schema only.
        status_schema = rtype.status_schema() or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        node_schema = {"type": "object", "properties": {"status": status_schema}}
        view = {k: v for k, v in obj.items() if k == "status"}
        old_view = {k: v for k, v in (old or {}).items() if k == "status"}
    else:
        view = obj
        old_view = old or {}
    dropped = schema.prune(view, node_schema)
    if dropped and validation == "Strict":
        unknown = ", ".join(f'unknown field "{path}"' for path in dropped)
        raise bad_request(
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
            f"strict decoding error: {unknown}"
        )
    schema.apply_defaults(view, node_schema)
    if subresource != "status" and rtype.status_subresource:
        # Status is not this request's business: leave it out of the checks.
        checked_schema = {**node_schema, "properties": {
            k: v for k, v in node_schema.get("properties", {}).items() if k != "status"}}  # fmt: skip
        checked = {k: v for k, v in view.items() if k != "status"}
        checked_old = {k: v for k, v in old_view.items() if k != "status"}
    else:
        checked_schema, checked, checked_old = node_schema, view, old_view
    causes = schema.validate(checked, checked_schema)
    if any(cause.reason in _BLOCKING for cause in causes):
        # As the API server: CEL rules only see values of the declared types.
        causes.append(Cause("FieldValueInvalid", _RULES_NOT_CHECKED, "<nil>"))
    elif old is None:
        causes += check_rules(checked, checked_schema)
    else:
        causes += check_rules(checked, checked_schema, checked_old)
    if causes:
        raise invalid(rtype, name, causes)
    if subresource == "status":
        if "status" in view:
            obj["status"] = view["status"]
        else:
            obj.pop("status", None)
    if validation == "Ignore":
        return []
    return [f'unknown field "{path}"' for path in dropped]
