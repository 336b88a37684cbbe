"""Decoding of the few protobuf bodies kubectl sends for built-in kinds (``kubectl create ns|cm|secret``).

kubectl encodes typed built-in objects as ``application/vnd.kubernetes.protobuf``: the magic
``k8s\\0`` then a ``runtime.Unknown`` envelope around the object. Only the fields a client sets
when creating a Namespace, ConfigMap or Secret are understood; anything else is refused (415).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

Json = dict[str, Any]
MAGIC = b"k8s\x00"


class UnsupportedProtobuf(ValueError):
    """A protobuf body this API cannot read; the caller answers 415."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise UnsupportedProtobuf("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise UnsupportedProtobuf(f"wire type {wire}")


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(value: int | bytes) -> tuple[str, bytes]:
    key, item = "", b""
    if isinstance(value, bytes):
        for number, part in _fields(value):
            if number == 1:
                key = _text(part)
            elif number == 2 and isinstance(part, bytes):
                item = part
    return key, item


def _metadata(data: bytes) -> Json:
    meta: Json = {}
    for number, value in _fields(data):
        if number in (1, 2, 3):
            meta[("name", "generateName", "namespace")[number - 1]] = _text(value)
        elif number in (11, 12):
            key, item = _entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _object(kind: str, data: bytes) -> Json:
    obj: Json = {}
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            obj["metadata"] = _metadata(value)
        elif kind == "ConfigMap" and number in (2, 3):
            key, item = _entry(value)
            if number == 2:
                obj.setdefault("data", {})[key] = item.decode()
            else:
                obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
        elif kind == "Secret" and number in (2, 4):
            key, item = _entry(value)
            if number == 2:
                obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
            else:
                obj.setdefault("stringData", {})[key] = item.decode()
        elif kind == "Secret" and number == 3:
            obj["type"] = _text(value)
        elif kind in ("ConfigMap", "Secret") and number in (4, 5) and isinstance(value, int):
            obj["immutable"] = bool(value)
    return obj


def decode(body: bytes) -> Json:
    """The JSON form of a protobuf-encoded Namespace, ConfigMap or Secret."""
    if not body.startswith(MAGIC):
        raise UnsupportedProtobuf("missing the k8s magic prefix")
    api_version = kind = ""
    raw = b""
    for number, value in _fields(body[len(MAGIC) :]):
        if number == 1 and isinstance(value, bytes):
            for sub, part in _fields(value):
                if sub == 1:
                    api_version = _text(part)
                elif sub == 2:
                    kind = _text(part)
        elif number == 2 and isinstance(value, bytes):
            raw = value
    if api_version != "v1" or kind not in ("Namespace", "ConfigMap", "Secret"):
        raise UnsupportedProtobuf(f"{api_version} {kind}")
    return {"apiVersion": api_version, "kind": kind, **_object(kind, raw)}
