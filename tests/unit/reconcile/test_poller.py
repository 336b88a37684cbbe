"""The shared snapshot: concurrent readers coalesce onto one refresh; writes invalidate it; a
refresh looks up the wanted ids when that is fewer calls than the listing (P1b)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ens_image_operator.ens import ratelimit
from ens_image_operator.ens.errors import NotFound
from ens_image_operator.ens.models import ExportImageInfo, SelfImage
from ens_image_operator.poller import ScopeSnapshots, listing_calls, prefers_lookups


class CountingClient:
    """Lists ``size`` images in pages of 50, counting the page requests and the lookups by id."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages = 0
        self.lookups: list[str] = []
        self.concurrent = 0
        self.most_concurrent = 0
        self.gone: set[str] = set()  # ids whose lookup fails with NotFound

    async def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]:
        if image_id is not None:
            self.lookups.append(image_id)
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
            try:
                await asyncio.sleep(0.01)
            finally:
                self.concurrent -= 1
            if image_id in self.gone:
                raise NotFound("InvalidImageId.NotFound", "no such image")
            if int(image_id.removeprefix("m-")) < self.size:
                yield SelfImage(image_id=image_id, status="Creating")
            return
        for start in range(0, max(self.size, 1), 50):
            self.pages += 1
            await asyncio.sleep(0.001)
            for index in range(start, min(start + 50, self.size)):
                yield SelfImage(image_id=f"m-{index}", status="Creating")

    async def iter_export_image_info(self) -> AsyncIterator[ExportImageInfo]:
        self.pages += 1
        yield ExportImageInfo(image_id="m-0", image_export_status="Exporting")


async def test_many_concurrent_readers_share_one_listing() -> None:
    client = CountingClient(size=120)
    snapshots = ScopeSnapshots(client, max_age=1.0)
    results = await asyncio.gather(*(snapshots.self_images() for _ in range(200)))
    assert client.pages == 3  # ceil(120 / 50), not 200
    assert all(len(result) == 120 for result in results)


async def test_a_young_snapshot_is_answered_from_memory() -> None:
    client = CountingClient(size=10)
    snapshots = ScopeSnapshots(client, max_age=60.0)
    await snapshots.self_images()
    await snapshots.self_images()
    assert client.pages == 1


async def test_an_old_snapshot_is_listed_again() -> None:
    now = [0.0]
    client = CountingClient(size=10)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    now[0] = 2.0
    await snapshots.self_images()
    assert client.pages == 2


async def test_a_reader_allowing_an_older_snapshot_reuses_it() -> None:
    client = CountingClient(size=10)
    now = [0.0]
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    now[0] = 2.0
    await snapshots.self_images(max_age=5.0)
    assert client.pages == 1


async def test_invalidation_makes_the_next_read_list_again() -> None:
    client = CountingClient(size=10)
    snapshots = ScopeSnapshots(client, max_age=60.0)
    await snapshots.self_images()
    snapshots.invalidate()
    await snapshots.self_images()
    assert client.pages == 2


async def test_invalidating_the_export_records_keeps_the_image_snapshot() -> None:
    client = CountingClient(size=10)
    snapshots = ScopeSnapshots(client, max_age=60.0)
    await snapshots.self_images()
    snapshots.invalidate(images=False)
    await snapshots.self_images()
    assert client.pages == 1


async def test_export_records_are_keyed_by_image_id() -> None:
    snapshots = ScopeSnapshots(CountingClient(size=0), max_age=60.0)
    assert (await snapshots.export_infos())["m-0"].image_export_status == "Exporting"


# --- targeted refreshes ---------------------------------------------------------------------------


def _ids(*numbers: int) -> set[str]:
    return {f"m-{number}" for number in numbers}


async def _counted(size: int, *, max_age: float = 1.0) -> tuple[CountingClient, ScopeSnapshots, list[float]]:
    """A big account whose size the snapshot has learnt from one full listing (at time 0)."""
    now = [0.0]
    client = CountingClient(size=size)
    snapshots = ScopeSnapshots(client, max_age=max_age, clock=lambda: now[0])
    await snapshots.self_images()
    client.pages = 0
    now[0] = 10.0  # that listing is old now
    return client, snapshots, now


def test_lookups_are_preferred_while_fewer_than_the_listings_pages() -> None:
    assert listing_calls(5000) == 100 and listing_calls(0) == 1
    assert prefers_lookups(99, 5000) and not prefers_lookups(100, 5000)
    assert prefers_lookups(0, 10) and not prefers_lookups(1, 10)


async def test_the_first_refresh_lists_fully_even_for_a_few_wanted_ids() -> None:
    client = CountingClient(size=500)
    snapshots = ScopeSnapshots(client, max_age=1.0)
    snapshots.want(_ids(1))
    assert len(await snapshots.self_images()) == 500
    assert (client.pages, client.lookups) == (10, [])


async def test_a_few_images_in_flight_in_a_big_account_cost_one_lookup_each() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(1, 2, 3, 4, 5))
    images = await snapshots.self_images()
    assert (client.pages, sorted(client.lookups)) == (0, sorted(_ids(1, 2, 3, 4, 5)))
    assert set(images) == _ids(1, 2, 3, 4, 5)


async def test_as_many_images_in_flight_as_pages_are_listed_instead() -> None:
    client, snapshots, _ = await _counted(500)
    snapshots.want(_ids(*range(10)))  # 10 lookups would cost what 10 pages cost: list, and see all
    assert len(await snapshots.self_images()) == 500
    assert (client.pages, client.lookups) == (10, [])


async def test_concurrent_readers_share_one_targeted_refresh() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(1, 2, 3))
    results = await asyncio.gather(*(snapshots.self_images() for _ in range(100)))
    assert len(client.lookups) == 3  # not 300
    assert all(set(result) == _ids(1, 2, 3) for result in results)


async def test_lookups_run_a_few_at_a_time() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(*range(40)))
    await snapshots.self_images()
    assert len(client.lookups) == 40 and 1 < client.most_concurrent <= 8


async def test_a_young_targeted_snapshot_is_answered_from_memory() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(1, 2))
    await snapshots.self_images()
    snapshots.want(_ids(2))  # fewer ids than it looked up: still shown
    await snapshots.self_images()
    assert len(client.lookups) == 2


async def test_an_id_wanted_after_the_targeted_refresh_is_fetched() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(1))
    await snapshots.self_images()
    snapshots.want(_ids(1, 2))
    assert set(await snapshots.self_images()) == _ids(1, 2)
    assert len(client.lookups) == 3


async def test_a_young_full_listing_serves_wanted_ids_without_a_call() -> None:
    client = CountingClient(size=5000)
    snapshots = ScopeSnapshots(client, max_age=60.0)
    await snapshots.self_images()
    snapshots.want(_ids(1, 2))
    assert set(await snapshots.self_images()) >= _ids(1, 2)
    assert (client.pages, client.lookups) == (100, [])


async def test_a_reader_wanting_every_image_never_gets_a_targeted_snapshot() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(1))
    await snapshots.self_images()
    snapshots.want(None)  # the drift check compares every stable image
    assert len(await snapshots.self_images(max_age=5.0)) == 5000  # the listing at 0 is too old
    assert client.pages == 100


async def test_the_drift_checks_long_max_age_reuses_a_full_listing_not_a_targeted_one() -> None:
    client, snapshots, now = await _counted(5000)
    snapshots.want(None)
    await snapshots.self_images()  # a full listing at time 10
    snapshots.want(_ids(1))
    now[0] = 20.0
    await snapshots.self_images()  # a targeted refresh at time 20
    snapshots.want(None)
    assert len(await snapshots.self_images(max_age=300.0)) == 5000
    assert client.pages == 100 and len(client.lookups) == 1  # no second listing


async def test_nothing_in_flight_costs_no_call() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(set())
    assert await snapshots.self_images() == {}
    assert (client.pages, client.lookups) == (0, [])


async def test_an_image_that_is_gone_is_absent_from_a_targeted_snapshot() -> None:
    client, snapshots, _ = await _counted(5000)
    client.gone = _ids(2)
    snapshots.want(_ids(1, 2, 9999))
    assert set(await snapshots.self_images()) == _ids(1)


async def test_invalidation_makes_the_next_targeted_read_look_up_again() -> None:
    client, snapshots, _ = await _counted(5000)
    snapshots.want(_ids(1))
    await snapshots.self_images()
    snapshots.invalidate()
    await snapshots.self_images()
    assert len(client.lookups) == 2


async def test_the_account_is_counted_again_after_recount_after() -> None:
    now = [0.0]
    client = CountingClient(size=5000)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0], recount_after=100.0)
    await snapshots.self_images()
    client.size = 100  # the account shrank: lookups would now cost more than the listing
    snapshots.want(_ids(1, 2, 3))
    now[0] = 50.0
    await snapshots.self_images()
    now[0] = 150.0
    await snapshots.self_images()
    now[0] = 160.0
    await snapshots.self_images()
    assert client.lookups == sorted(_ids(1, 2, 3))  # only the refresh at 50
    assert client.pages == 100 + 2 + 2  # start-up, the recount at 150, and listing again at 160
    assert snapshots.image_listing.account_size == 100


async def test_a_failed_lookup_fails_the_refresh_for_every_reader() -> None:
    client, snapshots, _ = await _counted(5000)

    async def broken(
        *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]:
        raise RuntimeError("ENS is down")
        yield SelfImage(image_id="never", status="Creating")  # pragma: no cover

    client.iter_self_images = broken  # type: ignore[method-assign]
    snapshots.want(_ids(1))
    results = await asyncio.gather(snapshots.self_images(), snapshots.self_images(), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    with pytest.raises(RuntimeError):
        await snapshots.self_images()


async def test_a_listing_longer_than_the_snapshot_age_is_fresh_when_it_arrives() -> None:
    # 100 pages at a tenth of a second each: 10 s, ten times the snapshot's max age.
    now = [0.0]

    class SlowPages(CountingClient):
        async def iter_self_images(self, **filters: Any) -> AsyncIterator[SelfImage]:
            async for image in super().iter_self_images(**filters):
                if int(image.image_id.removeprefix("m-")) % 50 == 0:
                    now[0] += 0.1
                yield image

    client = SlowPages(size=5000)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    await snapshots.self_images()  # a pass reading right after the listing arrived
    assert client.pages == 100


async def test_passes_the_scheduler_did_not_plan_for_share_one_refresh_of_their_ids() -> None:
    # A burst of create events: each pass reads the one image it adopts, none was wanted this cycle.
    now = [0.0]
    client = CountingClient(size=5000)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()  # the start-up listing: the account's size is known
    snapshots.want(set())
    now[0] = 2.0
    results = await asyncio.gather(*(snapshots.self_images(need={f"m-{n}"}) for n in range(20)))
    assert all(f"m-{n}" in result for n, result in enumerate(results))
    # Two refreshes at most (the one the first pass started, and one for all the others), no listing.
    assert snapshots.refreshes <= 1 + 2 and client.pages == 100
    assert sorted(set(client.lookups)) == sorted(f"m-{n}" for n in range(20))


class PacedPages(CountingClient):
    """Pages that take ``page_seconds`` each on a fake clock, recording whether each page was
    requested in the background (the drift check) or the foreground."""

    def __init__(self, size: int, now: list[float], page_seconds: float) -> None:
        super().__init__(size)
        self.now, self.page_seconds = now, page_seconds
        self.page_priorities: list[bool] = []

    async def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]:
        if image_id is not None:
            async for image in super().iter_self_images(image_id=image_id):
                yield image
            return
        for start in range(0, self.size, 50):
            self.pages += 1
            self.page_priorities.append(ratelimit._in_background())
            await asyncio.sleep(0.001)
            self.now[0] += self.page_seconds
            for index in range(start, min(start + 50, self.size)):
                yield SelfImage(image_id=f"m-{index}", status="Available")


async def test_the_drift_checks_listing_runs_in_the_background_beside_the_lookups_in_flight() -> None:
    now = [0.0]
    client = PacedPages(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()  # the account's size is known: 100 pages, 10 s
    now[0] += 100.0  # the account's size is still current (recount_after is 600 s)
    snapshots.want(_ids(1))
    check = asyncio.create_task(snapshots.all_self_images(max_age=50.0))
    await asyncio.sleep(0.01)  # the listing is under way
    assert set(await snapshots.self_images()) == _ids(1)  # one lookup, not a wait for the listing
    assert not check.done() and client.lookups == ["m-1"]
    assert len(await check) == 5000
    assert client.page_priorities[:100] == [False] * 100  # the pass's own listing at start-up
    assert client.page_priorities[100:] == [True] * 100


async def test_a_pass_that_needs_a_full_listing_raises_the_one_running_in_the_background() -> None:
    now = [0.0]
    client = PacedPages(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    check = asyncio.create_task(snapshots.all_self_images(max_age=300.0))
    await asyncio.sleep(0.02)
    # The size is not known yet, so a pass's read needs the full listing too: it joins the one running.
    assert len(await snapshots.self_images()) == 5000
    await check
    assert client.pages == 100  # one listing for both
    assert client.page_priorities[0] is True and client.page_priorities[-1] is False


async def test_readers_of_a_listing_slower_than_the_snapshot_age_get_the_last_while_the_next_runs() -> None:
    # 5000 adoptions at once in an account of 5000 images: a listing takes 10 s, a snapshot may age 1 s.
    now = [0.0]
    client = PacedPages(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    now[0] += 2.0  # older than the snapshot may be, younger than that plus one listing
    started = now[0]
    answers = await asyncio.gather(*(snapshots.self_images(need={f"m-{n}"}) for n in range(150)))
    assert now[0] == started  # nobody waited for the listing that is now running
    assert all(f"m-{n}" in answer for n, answer in enumerate(answers))
    await asyncio.sleep(0.5)
    # Answering more readers than the listing has pages started the next listing, once.
    assert client.pages == 200


async def test_a_reader_whose_image_the_last_slow_listing_lacks_waits_for_the_next() -> None:
    now = [0.0]
    client = PacedPages(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    client.size = 5050  # an image created since
    snapshots.want(None)
    now[0] += 2.0
    assert "m-5049" in await snapshots.self_images(need={"m-5049"})
    assert client.pages == 100 + 101


async def test_an_image_still_creating_in_the_last_listing_is_never_answered_from_it_when_old() -> None:
    # An import in flight needs a newer answer than the one it had: its status is about to change.
    now = [0.0]

    class OneCreating(PacedPages):
        async def iter_self_images(self, **filters: Any) -> AsyncIterator[SelfImage]:
            async for image in super().iter_self_images(**filters):
                yield SelfImage(image_id="m-7", status="Creating") if image.image_id == "m-7" else image

    client = OneCreating(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    snapshots.want(_ids(7))
    now[0] += 2.0
    await snapshots.self_images(need={"m-7"})
    assert client.lookups == ["m-7"]  # it waited for a lookup made now


async def test_settled_images_of_a_slow_listing_serve_readers_while_lookups_run() -> None:
    now = [0.0]
    client = PacedPages(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    await snapshots.self_images()
    snapshots.want(_ids(*range(90)))  # 90 lookups, as long as the listing at 10 calls/s
    now[0] += 2.0
    answers = await asyncio.gather(*(snapshots.self_images(need={f"m-{n}"}) for n in range(90)))
    assert all(answer[f"m-{n}"].status == "Available" for n, answer in enumerate(answers))
    assert client.pages == 100  # no second listing: the lookups refresh the wanted ids meanwhile


async def test_closing_stops_every_refresh_still_running_even_an_invalidated_one() -> None:
    # The operator stops: a listing left running would call ENS through a closed client.
    now = [0.0]
    client = PacedPages(5000, now, page_seconds=0.1)
    snapshots = ScopeSnapshots(client, max_age=1.0, clock=lambda: now[0])
    first = asyncio.create_task(snapshots.all_self_images(max_age=1.0))
    await asyncio.sleep(0.01)
    snapshots.invalidate()  # a write: the listing under way is no longer the current one
    second = asyncio.create_task(snapshots.self_images())
    await asyncio.sleep(0.01)
    await snapshots.aclose()
    pages = client.pages
    await asyncio.sleep(0.2)
    assert client.pages == pages < 200  # nothing runs any more
    for reader in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await reader
