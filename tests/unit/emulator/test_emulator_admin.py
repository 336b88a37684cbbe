"""The unsigned admin API lists, steers and resets the emulator, and never echoes secrets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from ens_image_kit.emulator import RunningEmulator, run_emulator
from ens_image_kit.emulator.images import DiskSource


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(step_seconds=3600.0) as emu:
        yield emu


@pytest.fixture
async def admin(emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.admin_url) as client:
        yield client


def _image(emulator: RunningEmulator, name: str = "golden") -> str:
    return emulator.state.create_image(name, [DiskSource("b", "d.qcow2")]).image_id


async def test_images_lists_every_image_with_its_status(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    image_id = _image(emulator)
    [view] = (await admin.get("/images")).json()
    assert (view["ImageId"], view["ImageName"], view["Status"], view["ExportStatus"], view["DeletedAt"]) == (
        image_id,
        "golden",
        "Creating",
        "Unexported",
        None,
    )


async def test_deleted_images_stay_listed_with_their_deletion_time(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    image_id = _image(emulator)
    emulator.state.delete_image(emulator.state.images[image_id])
    [view] = (await admin.get("/images")).json()
    assert view["DeletedAt"] is not None


async def test_forcing_a_status_is_what_the_api_then_reports(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    image_id = _image(emulator)
    response = await admin.post(f"/images/{image_id}", json={"Status": "Available"})
    assert response.json()["Status"] == "Available"
    assert response.json()["StatusChangedAt"] is not None
    assert response.json()["ChangedAtMonotonic"] <= time.monotonic()
    assert emulator.state.images[image_id].status(emulator.state.now()) == "Available"


async def test_forcing_the_status_of_an_unknown_image_is_not_found(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/images/m-nope", json={"Status": "Available"})
    assert response.status_code == 404


async def test_an_unknown_export_status_is_a_bad_request(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    response = await admin.post(f"/images/{_image(emulator)}", json={"ExportStatus": "Teleported"})
    assert response.status_code == 400


async def test_missing_objects_can_be_declared_and_cleared(admin: httpx.AsyncClient) -> None:
    declared = {"buckets": ["gone"], "objects": [{"bucket": "b", "object": "d.qcow2"}]}
    assert (await admin.post("/missing", json=declared)).json() == declared
    assert (await admin.delete("/missing")).json() == {"buckets": [], "objects": []}


async def test_fault_rules_can_be_added_listed_and_cleared(admin: httpx.AsyncClient) -> None:
    await admin.post("/faults", json=[{"action": "ImportImage", "rate": 0.5}, {"drop": True}])
    rules = (await admin.get("/faults")).json()
    assert [(r["action"], r["rate"], r["drop"]) for r in rules] == [
        ("ImportImage", 0.5, False),
        ("*", 1.0, True),
    ]
    assert (await admin.delete("/faults")).json() == []


async def test_a_malformed_fault_rule_is_a_bad_request(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/faults", json={"rate": "often"})).status_code == 400


async def test_calls_are_counted_per_action_and_outcome(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            await client.post(f"{emulator.url}/", params={"Action": "DescribeSelfImages"})
    assert (await admin.get("/calls")).json() == {"DescribeSelfImages": {"MissingParameter": 2}}


async def test_the_call_log_never_shows_signatures_or_tokens(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    params = {"Action": "ImportImage", "ImageName": "x1", "Signature": "sig", "SecurityToken": "tok"}
    async with httpx.AsyncClient() as client:
        await client.post(f"{emulator.url}/", params=params)
    [entry] = (await admin.get("/calls/log", params={"action": "ImportImage"})).json()
    assert entry["params"] == {"Action": "ImportImage", "ImageName": "x1"}
    assert {"monotonic", "time", "code", "status"} <= entry.keys()


async def test_the_call_log_filters_by_action(emulator: RunningEmulator, admin: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(f"{emulator.url}/", params={"Action": "ImportImage"})
        await client.post(f"{emulator.url}/", params={"Action": "DeleteImage"})
    log = (await admin.get("/calls/log", params={"action": "DeleteImage"})).json()
    assert [entry["action"] for entry in log] == ["DeleteImage"]


async def test_the_step_length_can_be_changed(emulator: RunningEmulator, admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/config", json={"stepSeconds": 0})).json()["stepSeconds"] == 0
    image_id = _image(emulator)
    assert emulator.state.images[image_id].status(emulator.state.now()) == "Available"


async def test_a_negative_step_is_a_bad_request(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/config", json={"stepSeconds": -1})).status_code == 400


async def test_reset_forgets_images_faults_and_calls(
    emulator: RunningEmulator, admin: httpx.AsyncClient
) -> None:
    _image(emulator)
    await admin.post("/faults", json={"rate": 1})
    async with httpx.AsyncClient() as client:
        await client.post(f"{emulator.url}/", params={"Action": "ImportImage"})
    await admin.post("/reset")
    bodies = [(await admin.get(path)).json() for path in ("/images", "/faults", "/calls")]
    assert bodies == [[], [], {}]
