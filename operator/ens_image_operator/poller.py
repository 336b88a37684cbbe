"""One shared, coalescing snapshot of an account's images per credentials scope.

Every in-flight object's timer reads the snapshot instead of calling ENS itself. A read that
arrives while a refresh is running waits for that refresh; a read of a snapshot younger than
``max_age`` is answered from memory.

A refresh of the images snapshot is one of two kinds (P1b in docs/performance.md):

- the full paged listing, ceil(account images / 50) calls, which shows every image;
- targeted lookups, one DescribeSelfImages by ImageId per image the scheduler said is in flight
  this cycle (:meth:`ScopeSnapshots.want`), a few at a time.

Targeted lookups are chosen when they are fewer calls than the listing: with k images in flight in
an account of A images a refresh costs min(k, ceil(A / 50)) calls, not ceil(A / 50). The account
size comes from the last full listing, so the first refresh after start-up always lists, and a
listing is made again every ``recount_after`` seconds to keep the size current. A targeted snapshot
holds only the wanted ids: an id missing from it proves nothing, which every reader already
assumes (absence is proven by a lookup made now, see ``reconcile/image.py``).

Two more rules keep a big account from making readers wait:

- the drift check's full listing (:meth:`ScopeSnapshots.all_self_images`) is a refresh of its own,
  run in the background: the passes' targeted refreshes go on beside it, and its calls yield to
  theirs in the rate limiter;
- a reader whose images the last full listing shows Available gets that listing instead of waiting
  for a refresh, as long as it is no older than the snapshot age plus twice the time the listing took;
  once it has answered more such readers than it has pages, the next listing starts.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import Generic, Protocol, TypeVar

from ens_image_operator.ens.errors import NotFound
from ens_image_operator.ens.models import ExportImageInfo, SelfImage
from ens_image_operator.ens.ratelimit import Priority, in_background

T = TypeVar("T", SelfImage, ExportImageInfo)

PAGE_SIZE = 50  # items per DescribeSelfImages page
# Targeted lookups win while they are fewer calls than the listing's pages. Measured with
# ``python -m bench p1b``: one lookup by id costs what one page costs (the same action, the same
# rate limit), and the lookups run concurrently, so fewer calls is also the shorter refresh.
SWITCH_RATIO = 1.0
LOOKUP_CONCURRENCY = 8  # lookups in flight at once per refresh (the client's rate limit still applies)
RECOUNT_AFTER = 600.0  # seconds: how old the account size may be before a listing counts it again


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def listing_calls(account_size: int) -> int:
    """Calls of one full listing of an account of ``account_size`` images."""
    return max(1, math.ceil(account_size / PAGE_SIZE))


def prefers_lookups(wanted: int, account_size: int, ratio: float = SWITCH_RATIO) -> bool:
    """Whether ``wanted`` lookups by id cost less than listing an account of ``account_size``."""
    return wanted < ratio * listing_calls(account_size)


class Listing(Generic[T]):
    """A cached, coalesced ``{image_id: item}`` built from a paged listing or lookups by id.

    ``covers`` of a snapshot: ``None`` when it came from the full listing (it shows every item),
    else the ids it looked up (it shows those that exist, and nothing about any other id).
    """

    def __init__(
        self,
        fetch: Callable[[], AsyncIterator[T]],
        *,
        max_age: float,
        clock: Callable[[], float] = _loop_time,
        lookup: Callable[[str], AsyncIterator[T]] | None = None,
        switch_ratio: float = SWITCH_RATIO,
        concurrency: int = LOOKUP_CONCURRENCY,
        recount_after: float = RECOUNT_AFTER,
        settled: Callable[[T], bool] | None = None,
    ) -> None:
        self._fetch: Callable[[], AsyncIterator[T]] = fetch
        self._settled: Callable[[T], bool] | None = settled
        self._lookup: Callable[[str], AsyncIterator[T]] | None = lookup
        self.max_age = max_age
        self.switch_ratio = switch_ratio
        self.concurrency = concurrency
        self.recount_after = recount_after
        self._clock = clock
        self._items: dict[str, T] | None = None
        self._covers: frozenset[str] | None = None
        self._taken_at = float("-inf")
        # The last full listing, kept while targeted refreshes follow it: a reader that needs every
        # item and allows an older snapshot (the drift check) reuses it instead of listing again.
        self._full: dict[str, T] | None = None
        self._full_at = float("-inf")
        self._full_took = 0.0  # how long that listing took
        self._served_stale = 0  # readers answered from it since it went stale
        # The refreshes running, at most one of each kind (True: the full listing; False: lookups).
        self._running: dict[bool, asyncio.Future[tuple[dict[str, T], frozenset[str] | None]]] = {}
        self._full_priority = Priority()
        # Every refresh task not yet done, invalidated ones too (stopping cancels them all).
        self._tasks: set[asyncio.Future[tuple[dict[str, T], frozenset[str] | None]]] = set()
        self._generation = 0
        self._wanted: frozenset[str] | None = None  # None: every item
        self.account_size: int | None = None  # items in the last full listing
        self._counted_at = float("-inf")
        self.refreshes = 0
        self.listings = 0
        self.lookups = 0

    def want(self, ids: Collection[str] | None) -> None:
        """The ids the next reads need (``None``: every item); a refresh fetches no more than that."""
        self._wanted = None if ids is None else frozenset(ids)

    async def get(self, max_age: float | None = None, need: Collection[str] | None = None) -> Mapping[str, T]:
        """The current snapshot, refreshing it only if it is older than ``max_age`` or lacks ids wanted.

        A reader that can live with older data (the slow drift check) passes a longer ``max_age``
        and so reuses whatever refresh the fast passes made instead of causing one of its own.
        """
        limit = self.max_age if max_age is None else max_age
        if need is not None and self._wanted is not None and not self._wanted.issuperset(need):
            # A pass the scheduler did not plan for (a create or update event): its ids join the
            # wanted ones, so a burst of such passes shares one refresh instead of a lookup each.
            self._wanted = self._wanted | frozenset(need)
        needed = self._wanted if need is None or self._wanted is None else frozenset(need)
        now = self._clock()
        if self._items is not None and now - self._taken_at < limit and _covers(self._covers, needed):
            return self._items
        if self._full is not None and now - self._full_at < limit:
            return self._full
        items: dict[str, T] = {}
        # A refresh already running may have been planned for another cycle's ids: wait for it,
        # and if it does not show what this reader needs, wait for one more (never more: a
        # snapshot that lacks an id proves nothing, so returning it is safe).
        if self._stale_serves(limit, needed if need is None else frozenset(need)):
            assert self._full is not None and self.account_size is not None
            # Once more readers were answered from it than it has pages, listing again is the
            # cheaper way to keep answering them (the rule that chooses lookups or a listing).
            self._served_stale += 1
            if self._served_stale >= listing_calls(self.account_size):
                self._start(None)
            return self._full
        for _ in range(2):
            running = self._start(self._plan())
            items, covered = await asyncio.shield(running)
            if _covers(covered, needed):
                break
        return items

    def _stale_serves(self, limit: float, needed: frozenset[str] | None) -> bool:
        """Whether a reader gets the last full listing while the next refresh runs, instead of waiting.

        Only for ids the listing shows settled (an Available image: a newer answer would lead a pass
        to the same decision), and only while the listing is no older than the age plus twice the
        time it took: waiting for a listing started now would deliver one that old at its end, and
        the second time allows for the next listing sharing its rate limit with lookups. In a big
        account a refresh takes longer than a snapshot may age, and without this every reader of a
        cold start (thousands of adoptions at once) would wait for each refresh in turn.
        """
        full, settled = self._full, self._settled
        if full is None or settled is None or needed is None:
            return False
        if self._clock() - self._full_at >= limit + 2 * self._full_took:
            return False
        return all(image_id in full and settled(full[image_id]) for image_id in needed)

    async def get_full(self, max_age: float) -> Mapping[str, T]:
        """Every item, from a full listing no older than ``max_age`` (the drift check).

        Its listing runs in the background (:func:`in_background`): its calls yield to those of the
        passes in flight; a pass that needs the full listing meanwhile raises it to the foreground.
        """
        if self._full is not None and self._clock() - self._full_at < max_age:
            return self._full
        items, _ = await asyncio.shield(self._start(None, background=True))
        return items

    def _start(
        self, plan: frozenset[str] | None, *, background: bool = False
    ) -> asyncio.Future[tuple[dict[str, T], frozenset[str] | None]]:
        """The refresh running for ``plan``'s kind (full or targeted), started if there is none."""
        full = plan is None
        running = self._running.get(full)
        if running is not None:
            if full and not background:
                self._full_priority.background = False  # a pass waits for it now
            return running
        loop = asyncio.get_running_loop()
        coroutine = self._refresh(self._generation, plan)
        if full:
            self._full_priority = Priority(background=background)
            running = loop.create_task(coroutine, context=in_background(self._full_priority))
        else:
            running = loop.create_task(coroutine)
        self._running[full] = running
        self._tasks.add(running)
        running.add_done_callback(lambda done: self._forget(full, done))
        return running

    def _plan(self) -> frozenset[str] | None:
        """What the next refresh fetches: these ids, or (``None``) the full listing."""
        wanted, size = self._wanted, self.account_size
        if wanted is None or self._lookup is None or size is None:
            return None
        if self._clock() - self._counted_at >= self.recount_after:
            return None  # the account size may have moved: count it again
        return wanted if prefers_lookups(len(wanted), size, self.switch_ratio) else None

    def _forget(self, full: bool, future: asyncio.Future[tuple[dict[str, T], frozenset[str] | None]]) -> None:
        self._tasks.discard(future)
        if self._running.get(full) is future:
            del self._running[full]
        if not future.cancelled():
            future.exception()  # mark retrieved: every waiter got it already

    async def _refresh(
        self, generation: int, plan: frozenset[str] | None
    ) -> tuple[dict[str, T], frozenset[str] | None]:
        started = self._clock()
        if plan is None:
            items = {item.image_id: item async for item in self._fetch()}
            self.listings += 1
            self.account_size, self._counted_at = len(items), started
        else:
            items = await self._look_up(plan)
        self.refreshes += 1
        # A snapshot's age counts from when it is complete: a listing of a hundred pages takes longer
        # than a poll period, and counted from its start it would be stale on arrival, so every
        # reader would start another. No decision takes a snapshot's miss as absence.
        done = self._clock()
        if generation == self._generation:  # not invalidated while fetching
            if plan is None:
                self._full, self._full_at, self._full_took = items, done, done - started
                self._served_stale = 0
            newer = self._items is not None and self._covers is not None and self._taken_at > started
            if plan is not None or not newer:
                # A listing that ran beside a newer targeted refresh does not replace its snapshot.
                self._items, self._covers, self._taken_at = items, plan, done
        return items, plan

    async def _look_up(self, ids: frozenset[str]) -> dict[str, T]:
        assert self._lookup is not None
        lookup = self._lookup
        semaphore = asyncio.Semaphore(self.concurrency)
        found: dict[str, T] = {}

        async def one(image_id: str) -> None:
            async with semaphore:
                self.lookups += 1
                try:
                    async for item in lookup(image_id):
                        if item.image_id == image_id:  # an exact match, whatever the filter does
                            found[image_id] = item
                except NotFound:
                    pass  # gone: absent from the snapshot, as a listing would show it

        await asyncio.gather(*(one(image_id) for image_id in sorted(ids)))
        return found

    async def aclose(self) -> None:
        """Stop the refreshes still running (the operator stops: their client is about to close)."""
        running, self._running = list(self._tasks), {}
        for refresh in running:
            refresh.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def invalidate(self) -> None:
        """Drop the snapshot: the next read fetches again (a write happened)."""
        self._items = self._full = None
        self._covers = None
        self._generation += 1
        self._running = {}


def _covers(covered: frozenset[str] | None, needed: frozenset[str] | None) -> bool:
    """Whether a snapshot that fetched ``covered`` (None: everything) shows all of ``needed``."""
    return covered is None or (needed is not None and needed <= covered)


class ListingClient(Protocol):
    def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]: ...

    def iter_export_image_info(self) -> AsyncIterator[ExportImageInfo]: ...


class ScopeSnapshots:
    """The snapshots of one credentials scope: custom images and their export records."""

    def __init__(
        self,
        client: ListingClient,
        *,
        max_age: float,
        clock: Callable[[], float] = _loop_time,
        switch_ratio: float = SWITCH_RATIO,
        recount_after: float = RECOUNT_AFTER,
    ) -> None:
        self._images = Listing(
            lambda: client.iter_self_images(),
            max_age=max_age,
            clock=clock,
            lookup=lambda image_id: client.iter_self_images(image_id=image_id),
            switch_ratio=switch_ratio,
            recount_after=recount_after,
            settled=lambda image: image.status == "Available",
        )
        self._exports = Listing(lambda: client.iter_export_image_info(), max_age=max_age, clock=clock)

    def want(self, image_ids: Collection[str] | None) -> None:
        """The image ids this cycle's passes read (``None``: every image, as the drift check needs).

        Set by the scheduler before the passes; reads of the images snapshot then fetch only these
        ids while that is cheaper than the full listing.
        """
        self._images.want(image_ids)

    async def self_images(
        self, max_age: float | None = None, need: Collection[str] | None = None
    ) -> Mapping[str, SelfImage]:
        return await self._images.get(max_age, need)

    async def all_self_images(self, max_age: float) -> Mapping[str, SelfImage]:
        """Every image, from a full listing no older than ``max_age``, made in the background."""
        return await self._images.get_full(max_age)

    async def export_infos(self) -> Mapping[str, ExportImageInfo]:
        return await self._exports.get()

    async def aclose(self) -> None:
        """Stop every refresh still running."""
        await self._images.aclose()
        await self._exports.aclose()

    def invalidate(self, *, images: bool = True, exports: bool = True) -> None:
        # Only the listing a write changed: the other stays shared until it ages out.
        if images:
            self._images.invalidate()
        if exports:
            self._exports.invalidate()

    @property
    def refreshes(self) -> int:
        """How many refreshes were made (for tests and metrics)."""
        return self._images.refreshes + self._exports.refreshes

    @property
    def image_listing(self) -> Listing[SelfImage]:
        """The images snapshot itself (its counters, for tests and benchmarks)."""
        return self._images
