"""Core ``v1`` Events and ``events.k8s.io/v1`` Events are one set of objects seen two ways.

The field mapping is the API server's: involvedObject/regarding, message/note,
source/deprecatedSource, firstTimestamp/deprecatedFirstTimestamp, and so on.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

# core v1 field -> events.k8s.io/v1 field
_RENAMED = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_SHARED = ("metadata", "eventTime", "series", "action", "reason", "related", "reportingInstance", "type")


def _convert(obj: Json, renamed: dict[str, str], api_version: str) -> Json:
    result: Json = {"apiVersion": api_version, "kind": "Event"}
    for field in _SHARED:
        if field in obj:
            result[field] = obj[field]
    for old, new in renamed.items():
        if old in obj:
            result[new] = obj[old]
    return result


def core_to_events_v1(obj: Json) -> Json:
    """The events.k8s.io/v1 view of a core v1 Event."""
    return _convert(obj, _RENAMED, "events.k8s.io/v1")


def events_v1_to_core(obj: Json) -> Json:
    """The core v1 view of an events.k8s.io/v1 Event."""
    return _convert(obj, {new: old for old, new in _RENAMED.items()}, "v1")
