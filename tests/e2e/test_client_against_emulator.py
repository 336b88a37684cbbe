"""EnsClient drives the emulator (an independent implementation of the ENS API) through image lives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ens_image_kit.emulator import RunningEmulator, emulator_thread, run_emulator
from ens_image_operator import cli
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import RrsaCredentials, StaticCredentials
from ens_image_operator.ens.errors import Denied, NotFound, Transient
from ens_image_operator.ens.models import DiskDeviceMapping, ImportImageRequest
from ens_image_operator.ens.ratelimit import RateLimiter

KEY_ID, KEY_SECRET = "e2e-id", "e2e-secret"
STEP = 0.05  # seconds per emulated status step: an import is Available after three steps
DEADLINE = 15.0


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(keys={KEY_ID: KEY_SECRET}, step_seconds=STEP, seed=11) as emu:
        yield emu


def make_client(emu: RunningEmulator, **kwargs: Any) -> EnsClient:
    kwargs.setdefault("limiter", RateLimiter(qps=1000, burst=100))
    kwargs.setdefault("backoff_base", 0.02)
    return EnsClient(StaticCredentials(KEY_ID, KEY_SECRET), endpoint=emu.url, **kwargs)


async def eventually(probe: Callable[[], Awaitable[str]], wanted: str) -> str:
    """Poll ``probe`` until it returns ``wanted`` or the deadline passes; return the last answer."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE
    answer = await probe()
    while answer != wanted and loop.time() < give_up:
        await asyncio.sleep(STEP / 2)
        answer = await probe()
    return answer


def import_request(name: str) -> ImportImageRequest:
    return ImportImageRequest(
        image_name=name,
        os_type="linux",
        platform="ubuntu",
        oss_region="cn-beijing",
        disk_device_mapping=[
            DiskDeviceMapping(oss_bucket="images", oss_object="ubuntu.qcow2", oss_region="cn-beijing")
        ],
    )


async def import_once(ens: EnsClient, name: str) -> str:
    """Import, and when the outcome is unknown look the image up by exact name before trying again."""
    for _ in range(10):
        try:
            return await ens.import_image(import_request(name))
        except Transient as error:
            if not error.maybe_applied:
                raise
        async for image in ens.iter_self_images(image_name=name):
            if image.image_name == name:
                return image.image_id
    raise AssertionError(f"could not import {name}")


async def life_cycle(ens: EnsClient, name: str) -> dict[str, str]:
    """Import → Available → export → Exported → delete; what was seen on the way."""
    image_id = await import_once(ens, name)

    async def status() -> str:
        page = await ens.describe_self_images(image_id=image_id)
        return page.images[0].status or "" if page.images else "gone"

    available = await eventually(status, "Available")
    url = await ens.export_image(image_id=image_id, oss_bucket="exports", oss_region_id="cn-beijing")
    exported = await eventually(lambda: ens.describe_export_image_status(image_id), "Exported")
    infos = [info async for info in ens.iter_export_image_info(image_id=image_id)]
    await ens.delete_image(image_id)
    return {
        "image_id": image_id,
        "available": available,
        "url": url,
        "exported": exported,
        "info_url": infos[0].exported_image_url or "" if infos else "",
        "after_delete": await status(),
    }


async def test_import_export_delete_life_cycle(emulator: RunningEmulator) -> None:
    async with make_client(emulator) as ens:
        seen = await life_cycle(ens, "e2e-plain")
    assert seen["available"] == "Available"
    assert seen["exported"] == "Exported"
    assert seen["url"].endswith(f"{seen['image_id']}.qcow2")
    assert seen["info_url"] == seen["url"]
    assert seen["after_delete"] == "gone"


async def test_life_cycles_converge_with_30_percent_faults(emulator: RunningEmulator) -> None:
    # Three kinds of fault, ~10% each (30% in all): throttling, a 503, and a dropped connection.
    rules = [
        {"rate": 0.1, "code": "Throttling.User", "status": 400},
        {"rate": 0.1 / 0.9, "code": "ServiceUnavailable", "status": 503},
        {"rate": 0.1 / 0.8, "code": None, "drop": True},
    ]
    names = [f"e2e-faulty-{n}" for n in range(5)]
    async with httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        await admin.post("/faults", json=rules)
        async with make_client(emulator, max_attempts=10, retry_deadline=DEADLINE) as ens:
            seen = await asyncio.gather(*(life_cycle(ens, name) for name in names))
        counts = (await admin.get("/calls")).json()
        images = (await admin.get("/images")).json()
    for one in seen:
        assert (one["available"], one["exported"], one["after_delete"]) == ("Available", "Exported", "gone")
    codes = {code for per_action in counts.values() for code in per_action}
    assert {"Throttling.User", "ServiceUnavailable", "Dropped"} <= codes  # the faults really happened
    assert sorted(image["ImageName"] for image in images) == names  # each imported exactly once


async def test_an_import_whose_answer_is_lost_is_not_sent_again(emulator: RunningEmulator) -> None:
    # The emulator imports the image, then drops the connection before answering.
    rule = {"action": "ImportImage", "rate": 1.0, "code": None, "drop": True, "after": True}
    async with httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        await admin.post("/faults", json=rule)
        async with make_client(emulator, max_attempts=5) as ens:
            with pytest.raises(Transient) as caught:
                await ens.import_image(import_request("e2e-lost-answer"))
        images = (await admin.get("/images")).json()
        counts = (await admin.get("/calls")).json()
    assert caught.value.maybe_applied
    assert sum(counts["ImportImage"].values()) == 1
    assert [image["ImageName"] for image in images] == ["e2e-lost-answer"]


async def test_lost_import_answers_still_end_in_one_image_per_name(emulator: RunningEmulator) -> None:
    rules = [{"action": "ImportImage", "rate": 0.5, "code": None, "drop": True, "after": True}]
    names = [f"e2e-lost-{n}" for n in range(6)]
    async with httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        await admin.post("/faults", json=rules)
        async with make_client(emulator) as ens:
            ids = await asyncio.gather(*(import_once(ens, name) for name in names))
        images = (await admin.get("/images")).json()
    assert sorted(image["ImageName"] for image in images) == names
    assert sorted(ids) == sorted(image["ImageId"] for image in images)


async def test_wrong_secret_is_denied_without_retrying(emulator: RunningEmulator) -> None:
    ens = EnsClient(StaticCredentials(KEY_ID, "not-the-secret"), endpoint=emulator.url, max_attempts=5)
    async with ens, httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        with pytest.raises(Denied):
            await ens.describe_image_infos()
        counts = (await admin.get("/calls")).json()
    assert sum(counts["DescribeImageInfos"].values()) == 1


async def test_unknown_image_is_not_found(emulator: RunningEmulator) -> None:
    async with make_client(emulator) as ens:
        with pytest.raises(NotFound):
            await ens.delete_image("m-doesnotexist")


async def test_rrsa_credentials_from_sts_are_accepted(emulator: RunningEmulator, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("a-service-account-token")
    rrsa = RrsaCredentials("acs:ram::1:role/ens", "acs:ram::1:oidc-provider/ack", str(token), emulator.url)
    async with EnsClient(rrsa, endpoint=emulator.url) as ens:
        images = await ens.describe_image_infos(os_type="linux")
    assert images
    assert {image.os_type for image in images} == {"linux"}


def test_images_command_prints_the_emulator_catalogue(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
    with emulator_thread(keys={KEY_ID: KEY_SECRET}) as emu:
        monkeypatch.setenv("ENS_OPERATOR_ENDPOINT", emu.url)
        assert cli.main(["images", "-o", "json", "--os-type", "windows"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert {row["OSType"] for row in rows} == {"windows"}


def test_images_command_reports_refused_credentials_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong-secret")
    with emulator_thread(keys={KEY_ID: KEY_SECRET}) as emu:
        assert cli.main(["images", "--endpoint", emu.url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ENS refused the credentials: SignatureDoesNotMatch")
    assert captured.err.count("\n") == 1
    assert "wrong-secret" not in captured.err
