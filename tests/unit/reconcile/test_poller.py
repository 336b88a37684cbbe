"""The shared snapshot: concurrent readers coalesce onto one listing; writes invalidate it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ens_image_operator.ens.models import ExportImageInfo, SelfImage
from ens_image_operator.poller import ScopeSnapshots


class CountingClient:
    """Lists ``size`` images in pages of 50, counting the page requests."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages = 0

    async def iter_self_images(self) -> AsyncIterator[SelfImage]:
        for start in range(0, max(self.size, 1), 50):
            self.pages += 1
            await asyncio.sleep(0.01)
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
