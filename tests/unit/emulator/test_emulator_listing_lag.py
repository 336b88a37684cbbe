"""A listing lag: a new image stays invisible to DescribeSelfImages, listings and lookups alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ens_image_kit.emulator import RunningEmulator, run_emulator
from ens_image_kit.emulator.actions import describe_self_images
from ens_image_kit.emulator.images import DiskSource
from ens_image_kit.emulator.state import EmulatorState


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _ids(state: EmulatorState, **params: str) -> list[str]:
    return [
        image["ImageId"]
        for image in describe_self_images(state, params, state.default_account_id)["Images"]["Image"]
    ]


def test_a_new_image_is_not_listed_until_the_lag_is_over() -> None:
    clock = FakeClock()
    state = EmulatorState(keys={}, clock=clock)
    state.set_listing_lag(20.0)
    image = state.create_image("fresh", [DiskSource("b", "d.qcow2")])
    clock.now += 19
    assert (
        _ids(state) == []
        and _ids(state, ImageId=image.image_id) == []
        and _ids(state, ImageName="fresh") == []
    )
    clock.now += 2
    assert _ids(state) == [image.image_id]


def test_a_lagging_image_can_still_be_deleted_by_id() -> None:
    clock = FakeClock()
    state = EmulatorState(keys={}, clock=clock)
    state.set_listing_lag(20.0)
    image = state.create_image("fresh", [DiskSource("b", "d.qcow2")])
    state.delete_image(state.get_live(image.image_id))
    assert state.images[image.image_id].deleted_at is not None


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(listing_lag=5.0) as emu:
        yield emu


async def test_the_listing_lag_is_a_setting_of_the_admin_config(emulator: RunningEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        assert (await admin.get("/config")).json()["listingLagSeconds"] == 5.0
        changed = await admin.post("/config", json={"listingLagSeconds": 20})
    assert changed.json()["listingLagSeconds"] == 20.0 and emulator.state.listing_lag == 20.0
