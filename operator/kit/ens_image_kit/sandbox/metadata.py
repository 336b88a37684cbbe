"""ObjectMeta rules every kind shares: label keys and values, annotation keys and total size."""

from __future__ import annotations

import json
import re
from typing import Any

from ens_image_kit.sandbox.schema import Cause

_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ANNOTATIONS_LIMIT = 256 * 1024

_NAME_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return (
            "a qualified name must consist of an optional DNS subdomain prefix and a name, separated by '/'"
        )
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME_PART.match(name):
        return _NAME_RULE
    return None


def validate_metadata(meta: dict[str, Any]) -> list[Cause]:
    """Field errors in labels and annotations, worded like the API server's."""
    causes: list[Cause] = []
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    for field, mapping in (("metadata.labels", labels), ("metadata.annotations", annotations)):
        if not isinstance(mapping, dict):
            continue
        for key in mapping:
            problem = _key_problem(str(key))
            if problem:
                causes.append(
                    Cause("FieldValueInvalid", f"Invalid value: {json.dumps(key)}: {problem}", field)
                )
    if isinstance(labels, dict):
        for value in labels.values():
            text = str(value)
            if len(text) > 63:
                message = f"Invalid value: {json.dumps(text)}: must be no more than 63 characters"
                causes.append(Cause("FieldValueInvalid", message, "metadata.labels"))
            elif not _LABEL_VALUE.match(text):
                message = f"Invalid value: {json.dumps(text)}: {_VALUE_RULE}"
                causes.append(Cause("FieldValueInvalid", message, "metadata.labels"))
    if isinstance(annotations, dict):
        size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if size > _ANNOTATIONS_LIMIT:
            message = f"Too long: must have at most {_ANNOTATIONS_LIMIT} bytes"
            causes.append(Cause("FieldValueTooLong", message, "metadata.annotations"))
    return causes
