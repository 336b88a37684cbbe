"""Objects in memory, one global resourceVersion counter, and watch fan-out with history."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
ResourceKey = tuple[str, str, str]
ObjectKey = tuple[str, str]  # (namespace or "", name)
Converter = Callable[[Json], Json]


class HistoryGone(Exception):
    """A watch asked to resume from a resourceVersion older than the kept history (410 Gone)."""


@dataclass(frozen=True)
class Event:
    """One change as a watch sends it."""

    type: str
    object: Json
    revision: int
    previous: Json | None = None  # the object before a MODIFIED, for selector transitions


@dataclass(eq=False)
class Watcher:
    """One open watch stream: its backlog and the live queue it keeps reading."""

    resource: ResourceKey
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)


class Store:
    """Stored objects per resource type. Stored dicts are never mutated, only replaced."""

    def __init__(self, history: int = 10_000) -> None:
        self._history_size = history
        self.revision = 0
        self._objects: dict[ResourceKey, dict[ObjectKey, Json]] = {}
        self._history: dict[ResourceKey, deque[Event]] = {}
        self._forgotten: dict[ResourceKey, int] = {}
        self._watchers: dict[ResourceKey, set[Watcher]] = {}
        self._mirrors: dict[ResourceKey, tuple[ResourceKey, Converter]] = {}
        self._mirror_targets: set[ResourceKey] = set()  # the second view of a mirrored pair
        self._per_namespace: dict[str, int] = {}

    def next_revision(self) -> int:
        self.revision += 1
        return self.revision

    def get(self, resource: ResourceKey, namespace: str, name: str) -> Json | None:
        return self._objects.get(resource, {}).get((namespace, name))

    def items(self, resource: ResourceKey, namespace: str | None = None) -> list[Json]:
        """Objects of one resource type, of one namespace or all, ordered by namespace and name."""
        bucket = self._objects.get(resource, {})
        keys = sorted(key for key in bucket if namespace is None or key[0] == namespace)
        return [bucket[key] for key in keys]

    def count(self, resource: ResourceKey) -> int:
        return len(self._objects.get(resource, {}))

    def resources(self) -> list[ResourceKey]:
        return [key for key, bucket in self._objects.items() if bucket]

    def mirror(self, one: ResourceKey, other: ResourceKey, convert: Converter, back: Converter) -> None:
        """Serve the same objects under two resource types (as core and events.k8s.io Events)."""
        self._mirrors[one] = (other, convert)
        self._mirrors[other] = (one, back)
        self._mirror_targets.add(other)

    def write(self, resource: ResourceKey, obj: Json, event_type: str) -> Json:
        """Store ``obj`` under a fresh resourceVersion and tell the watchers."""
        revision = self.next_revision()
        stored = self._put(resource, obj, event_type, revision)
        if resource in self._mirrors:
            other, convert = self._mirrors[resource]
            self._put(other, convert(stored), event_type, revision)
        return stored

    def _put(self, resource: ResourceKey, obj: Json, event_type: str, revision: int) -> Json:
        meta = dict(obj.get("metadata", {}))
        meta["resourceVersion"] = str(revision)
        stored = {**obj, "metadata": meta}
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self._objects.setdefault(resource, {})
        if key not in bucket and key[0] and resource not in self._mirror_targets:
            self._per_namespace[key[0]] = self._per_namespace.get(key[0], 0) + 1
        previous = bucket.get(key)
        bucket[key] = stored
        self._publish(resource, Event(event_type, stored, revision, previous))
        return stored

    def remove(self, resource: ResourceKey, obj: Json) -> Json:
        """Forget ``obj``; watchers see DELETED with a fresh resourceVersion."""
        revision = self.next_revision()
        final = self._drop(resource, obj, revision)
        if resource in self._mirrors:
            other = self._mirrors[resource][0]
            twin = self.get(other, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if twin is not None:
                self._drop(other, twin, revision)
        return final

    def _drop(self, resource: ResourceKey, obj: Json, revision: int) -> Json:
        meta = dict(obj.get("metadata", {}))
        meta["resourceVersion"] = str(revision)
        final = {**obj, "metadata": meta}
        key = (meta.get("namespace", ""), meta["name"])
        removed = self._objects.get(resource, {}).pop(key, None)
        if removed is not None and key[0] and resource not in self._mirror_targets:
            self._per_namespace[key[0]] -= 1
        self._publish(resource, Event("DELETED", final, revision))
        return final

    def _publish(self, resource: ResourceKey, event: Event) -> None:
        history = self._history.setdefault(resource, deque())
        history.append(event)
        if len(history) > self._history_size:
            self._forgotten[resource] = history.popleft().revision
        for watcher in self._watchers.get(resource, ()):
            watcher.queue.put_nowait(event)

    def subscribe(self, resource: ResourceKey, since: int | None) -> tuple[Watcher, list[Event]]:
        """Open a watch: the backlog (synthetic ADDED, or history newer than ``since``) + live queue."""
        if since is None:
            backlog = [
                Event("ADDED", obj, int(obj["metadata"]["resourceVersion"]))
                for obj in self._objects.get(resource, {}).values()
            ]
        else:
            if since < self._forgotten.get(resource, 0):
                raise HistoryGone(since)
            backlog = [event for event in self._history.get(resource, ()) if event.revision > since]
        watcher = Watcher(resource)
        self._watchers.setdefault(resource, set()).add(watcher)
        return watcher, backlog

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.resource, set()).discard(watcher)

    def watcher_count(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    def clear(self, keep: set[ResourceKey] | None = None) -> None:
        """Drop every object (except those of ``keep`` resource types) without watch events."""
        for resource in list(self._objects):
            if keep is None or resource not in keep:
                self._objects[resource] = {}
        self._per_namespace.clear()
        for resource, bucket in self._objects.items():
            if resource not in self._mirror_targets:
                for namespace, _ in bucket:
                    if namespace:
                        self._per_namespace[namespace] = self._per_namespace.get(namespace, 0) + 1

    def namespace_is_empty(self, namespace: str) -> bool:
        """Whether no object lives in ``namespace`` (a mirrored kind counts once)."""
        return self._per_namespace.get(namespace, 0) == 0
