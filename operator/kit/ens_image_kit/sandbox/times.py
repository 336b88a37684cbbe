"""Timestamps of built-in kinds, decoded as the API server decodes them.

``metav1.Time`` is RFC 3339 (fractional seconds allowed); ``metav1.MicroTime`` (an Event's
``eventTime``, a Lease's renew and acquire times) must carry exactly six fractional digits. A
value that does not parse makes the whole body undecodable: 400 BadRequest, not 422.
"""

from __future__ import annotations

import re
from typing import Any

from ens_image_kit.sandbox.errors import bad_request
from ens_image_kit.sandbox.registry import ResourceType

Json = dict[str, Any]

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_MICRO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")
_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_TIME_LAYOUT = "2006-01-02T15:04:05Z07:00"
_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"

# (group, kind) -> (Time fields, MicroTime fields), as dotted paths
_FIELDS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("", "Event"): (("firstTimestamp", "lastTimestamp"), ("eventTime", "series.lastObservedTime")),
    ("events.k8s.io", "Event"): (
        ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"),
        ("eventTime", "series.lastObservedTime"),
    ),
    ("coordination.k8s.io", "Lease"): ((), ("spec.acquireTime", "spec.renewTime")),
}


def _value(obj: Json, path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _problem(value: str, micro: bool) -> str:
    layout = _MICRO_LAYOUT if micro else _TIME_LAYOUT
    seconds = _SECONDS.match(value)
    if seconds is None:
        return f'parsing time "{value}" as "{layout}": cannot parse "{value}" as "{layout}"'
    rest = value[seconds.end() :]
    expected = ".000000" if micro else "Z07:00"
    return f'parsing time "{value}" as "{layout}": cannot parse "{rest}" as "{expected}"'


def check_times(rtype: ResourceType, obj: Json) -> None:
    """Raise 400 if a timestamp of a built-in kind would not decode on a real API server."""
    fields = _FIELDS.get((rtype.group, rtype.kind))
    if fields is None:
        return
    times, micro_times = fields
    for paths, pattern, micro in ((times, _TIME, False), (micro_times, _MICRO, True)):
        for path in paths:
            value = _value(obj, path)
            if value is None:
                continue
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise bad_request(
                    f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                    f"{_problem(str(value), micro)}"
                )
