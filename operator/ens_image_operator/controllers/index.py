"""What the operator remembers of each object between events: a few fields, kept from the watch.

kopf's own indexes would do the same, but kopf holds every handler back until each index has seen
every object, and a worker that has indexed its object waits for that moment while keeping its
slot; with more objects than the bounded worker pool has slots, the moment never comes. This index
is fed by plain event handlers, which wait for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

Entry = TypeVar("Entry")
Key = tuple[str, str]  # (namespace, name)


class ObjectIndex(Generic[Entry]):
    """One entry per live object, by (namespace, name); an object re-created under the same name
    replaces the old one, and a deletion of the old one (seen late) does not remove the new one."""

    def __init__(self) -> None:
        self._entries: dict[Key, tuple[str, Entry]] = {}

    def put(self, key: Key, uid: str, entry: Entry) -> None:
        self._entries[key] = (uid, entry)

    def remove(self, key: Key, uid: str) -> None:
        current = self._entries.get(key)
        if current is not None and current[0] == uid:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def items(self) -> Iterator[tuple[Key, list[Entry]]]:
        """``(key, [entry])`` pairs: the shape of a kopf index, read by the scheduler."""
        for key, (_, entry) in list(self._entries.items()):
            yield key, [entry]

    def __len__(self) -> int:
        return len(self._entries)
