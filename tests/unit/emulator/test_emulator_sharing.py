"""Accounts and image sharing in the emulated cloud: who owns, who sees, what survives a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ens_image_kit.emulator import DEFAULT_ACCOUNT_ID, RunningEmulator, run_emulator
from ens_image_kit.emulator.errors import ApiError
from ens_image_kit.emulator.images import DiskSource, Image
from ens_image_kit.emulator.state import EmulatorState, StsCredential
from ens_image_kit.emulator.validation import account_ids

OWNER, OTHER = "1000000000000001", "2000000000000002"
DISKS = [DiskSource("b", "d.qcow2")]


def _state() -> EmulatorState:
    return EmulatorState(keys={"id": "secret", "other": "s2"}, accounts={"other": OTHER}, step_seconds=0.0)


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value.code


def test_every_key_acts_for_the_default_account_unless_mapped() -> None:
    state = _state()
    state.sts["STS.x"] = StsCredential("s", "t")
    assert (state.account_of("id"), state.account_of("STS.x"), state.account_of("other")) == (
        DEFAULT_ACCOUNT_ID,
        DEFAULT_ACCOUNT_ID,
        OTHER,
    )


def test_an_image_belongs_to_the_account_that_created_it() -> None:
    state = _state()
    assert state.create_image("golden", DISKS).owner == DEFAULT_ACCOUNT_ID
    assert state.create_image("theirs", DISKS, owner=OTHER).owner == OTHER


def test_a_shared_image_is_listed_to_the_account_it_is_shared_with() -> None:
    state = _state()
    image = state.create_image("golden", DISKS)
    assert state.listed_images(OTHER) == []
    state.change_sharing(image, [OTHER], [])
    assert state.listed_images(OTHER) == [image]
    state.change_sharing(image, [], [OTHER])
    assert state.listed_images(OTHER) == []


def test_listing_without_an_account_shows_every_image() -> None:
    state = _state()
    mine, theirs = state.create_image("mine", DISKS), state.create_image("theirs", DISKS, owner=OTHER)
    assert state.listed_images() == [theirs, mine]


def test_sharing_twice_with_an_account_lists_it_once_in_the_order_added() -> None:
    state = _state()
    image = state.create_image("golden", DISKS)
    state.change_sharing(image, ["3", "4"], [])
    state.change_sharing(image, ["4", "3", "5"], [])
    assert image.shared_with == ["3", "4", "5"]


def test_only_the_owner_gets_an_image_as_its_own() -> None:
    state = _state()
    image = state.create_image("golden", DISKS)
    state.change_sharing(image, [OTHER], [])
    assert state.get_owned(image.image_id, DEFAULT_ACCOUNT_ID) is image
    assert state.get_visible(image.image_id, OTHER) is image
    assert _code(lambda: state.get_owned(image.image_id, OTHER)) == "NoPermission"
    assert _code(lambda: state.get_visible(image.image_id, "9")) == "ImageId.NotFound"


def test_a_deleted_shared_image_is_gone_for_everyone_but_keeps_its_share_list() -> None:
    state = _state()
    image = state.create_image("golden", DISKS)
    state.change_sharing(image, [OTHER], [])
    state.delete_image(image)
    assert state.listed_images(OTHER) == [] and state.find_visible(image.image_id, OTHER) is None
    assert state.images[image.image_id].shared_with == [OTHER]


def test_account_ids_are_comma_separated_digits_without_repeats() -> None:
    assert account_ids({"AddAccounts": "1, 2,1"}, "AddAccounts") == ["1", "2"]
    assert account_ids({}, "AddAccounts") == []
    assert (
        _code(lambda: account_ids({"AddAccounts": "1,,2"}, "AddAccounts")) == "InvalidParameter.AddAccounts"
    )


def test_an_image_from_an_older_state_file_belongs_to_the_default_account() -> None:
    data = Image("m-1", "old", 0.0, 1, 1.0).to_dict()
    del data["owner"], data["shared_with"]
    restored = Image.from_dict(data)
    assert (restored.owner, restored.shared_with) == ("", [])


async def test_shares_keys_and_the_default_account_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "ens.db"
    async with run_emulator(state_file=state_file) as first:
        first.state.add_account_key("other", "s2", OTHER)
        first.state.set_default_account("3000000000000003")
        image = first.state.create_image("golden", DISKS)
        first.state.change_sharing(image, [OTHER], [])
    async with run_emulator(state_file=state_file) as second:
        restored = second.state.images[image.image_id]
        assert (restored.owner, restored.shared_with) == ("3000000000000003", [OTHER])
        assert (second.state.keys["other"], second.state.account_of("other")) == ("s2", OTHER)
        assert second.state.default_account_id == "3000000000000003"


# --- admin API ---------------------------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(step_seconds=3600.0) as emu:
        yield emu


@pytest.fixture
async def admin(emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.admin_url) as client:
        yield client


async def test_the_admin_api_adds_a_key_of_another_account_and_never_shows_secrets(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    key = {"accessKeyId": "other", "accessKeySecret": "s2", "accountId": OTHER}
    reply = await admin.post("/accounts", json=key)
    assert reply.json() == {
        "defaultAccountId": DEFAULT_ACCOUNT_ID,
        "keys": [
            {"accessKeyId": "other", "accountId": OTHER},
            {"accessKeyId": "testid", "accountId": DEFAULT_ACCOUNT_ID},
        ],
    }
    assert "s2" not in (await admin.get("/accounts")).text
    assert emulator.state.keys["other"] == "s2"


@pytest.mark.parametrize(
    "body",
    [
        {"accessKeyId": "k", "accessKeySecret": "s", "accountId": "12ab"},
        {"accessKeyId": "k", "accessKeySecret": "s"},
        {"accessKeyId": "", "accessKeySecret": "s", "accountId": "1"},
    ],
)
async def test_the_admin_api_refuses_a_bad_account_key(
    admin: httpx.AsyncClient, body: dict[str, str]
) -> None:
    assert (await admin.post("/accounts", json=body)).status_code == 400


async def test_the_default_account_is_a_setting_of_the_admin_config(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    assert (await admin.get("/config")).json()["defaultAccountId"] == DEFAULT_ACCOUNT_ID
    changed = await admin.post("/config", json={"defaultAccountId": "3000000000000003"})
    assert changed.json()["defaultAccountId"] == "3000000000000003"
    assert emulator.state.account_of("testid") == "3000000000000003"
    assert (await admin.post("/config", json={"defaultAccountId": "abc"})).status_code == 400


async def test_the_admin_image_view_shows_owner_and_share_list(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    image = emulator.state.create_image("golden", DISKS)
    emulator.state.change_sharing(image, [OTHER], [])
    [view] = (await admin.get("/images")).json()
    assert (view["Owner"], view["SharedWith"]) == (DEFAULT_ACCOUNT_ID, [OTHER])
