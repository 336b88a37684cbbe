"""One shared, coalescing snapshot of an account's images per credentials scope.

Every in-flight object's timer reads the snapshot instead of calling ENS itself: N objects polling
together cost one paged listing (ceil(images / 50) calls) per refresh, not N calls. A read that
arrives while a listing is running waits for that listing; a read of a snapshot younger than
``max_age`` is answered from memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Generic, Protocol, TypeVar

from ens_image_operator.ens.models import ExportImageInfo, SelfImage

T = TypeVar("T", SelfImage, ExportImageInfo)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class Listing(Generic[T]):
    """A cached, coalesced ``{image_id: item}`` built from a paged listing."""

    def __init__(
        self,
        fetch: Callable[[], AsyncIterator[T]],
        *,
        max_age: float,
        clock: Callable[[], float] = _loop_time,
    ) -> None:
        self._fetch: Callable[[], AsyncIterator[T]] = fetch
        self.max_age = max_age
        self._clock = clock
        self._items: dict[str, T] | None = None
        self._taken_at = float("-inf")
        self._running: asyncio.Future[dict[str, T]] | None = None
        self._generation = 0
        self.refreshes = 0

    async def get(self, max_age: float | None = None) -> Mapping[str, T]:
        """The current snapshot, listing again only if it is older than ``max_age``.

        A reader that can live with older data (the slow drift check) passes a longer ``max_age``
        and so reuses whatever listing the fast passes made instead of causing one of its own.
        """
        limit = self.max_age if max_age is None else max_age
        if self._items is not None and self._clock() - self._taken_at < limit:
            return self._items
        if self._running is None:
            self._running = asyncio.ensure_future(self._refresh(self._generation))
            self._running.add_done_callback(self._forget)
        return await asyncio.shield(self._running)

    def _forget(self, future: asyncio.Future[dict[str, T]]) -> None:
        if self._running is future:
            self._running = None
        if not future.cancelled():
            future.exception()  # mark retrieved: every waiter got it already

    async def _refresh(self, generation: int) -> dict[str, T]:
        started = self._clock()
        items = {item.image_id: item async for item in self._fetch()}
        self.refreshes += 1
        if generation == self._generation:  # not invalidated while listing
            self._items, self._taken_at = items, started
        return items

    def invalidate(self) -> None:
        """Drop the snapshot: the next read lists again (a write happened)."""
        self._items = None
        self._generation += 1
        self._running = None


class ListingClient(Protocol):
    def iter_self_images(self) -> AsyncIterator[SelfImage]: ...

    def iter_export_image_info(self) -> AsyncIterator[ExportImageInfo]: ...


class ScopeSnapshots:
    """The snapshots of one credentials scope: custom images and their export records."""

    def __init__(
        self, client: ListingClient, *, max_age: float, clock: Callable[[], float] = _loop_time
    ) -> None:
        self._images = Listing(lambda: client.iter_self_images(), max_age=max_age, clock=clock)
        self._exports = Listing(lambda: client.iter_export_image_info(), max_age=max_age, clock=clock)

    async def self_images(self, max_age: float | None = None) -> Mapping[str, SelfImage]:
        return await self._images.get(max_age)

    async def export_infos(self) -> Mapping[str, ExportImageInfo]:
        return await self._exports.get()

    def invalidate(self, *, images: bool = True, exports: bool = True) -> None:
        # Only the listing a write changed: the other stays shared until it ages out.
        if images:
            self._images.invalidate()
        if exports:
            self._exports.invalidate()

    @property
    def refreshes(self) -> int:
        """How many listings were made (for tests and metrics)."""
        return self._images.refreshes + self._exports.refreshes
