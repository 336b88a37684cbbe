"""An emulator on a background thread for each test, and its admin API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from alibabacloud_ens20171110.client import Client
from sdk_setup import KEY_ID, KEY_SECRET, OTHER_ACCOUNT_ID, OTHER_KEY_ID, OTHER_KEY_SECRET, v3_client

from ens_image_kit.emulator import RunningEmulator, emulator_thread


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A fresh emulator whose images stay where they are unless a test moves them."""
    with emulator_thread(keys={KEY_ID: KEY_SECRET}, step_seconds=3600.0, seed=1) as emu:
        yield emu


@pytest.fixture
def admin(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """The emulator's unsigned admin API."""
    with httpx.Client(base_url=emulator.admin_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def v3(emulator: RunningEmulator) -> Client:
    """The current SDK (alibabacloud_ens20171110) with its default ACS3-HMAC-SHA256 signature."""
    return v3_client(emulator)


@pytest.fixture
def other(emulator: RunningEmulator, admin: httpx.Client) -> Client:
    """The current SDK signed with a key of a second account, registered through the admin API."""
    key = {"accessKeyId": OTHER_KEY_ID, "accessKeySecret": OTHER_KEY_SECRET, "accountId": OTHER_ACCOUNT_ID}
    admin.post("/accounts", json=key).raise_for_status()
    return v3_client(emulator, access_key_id=OTHER_KEY_ID, access_key_secret=OTHER_KEY_SECRET)
