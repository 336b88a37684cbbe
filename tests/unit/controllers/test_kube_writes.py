"""Status writes that can lose: a precondition on the intent, 409 and 404 told apart, Retry-After kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ens_image_operator.api.kinds import ENS_IMAGE
from ens_image_operator.controllers.kube import Connection, KubeApi, KubeConflict
from ens_image_operator.controllers.operator import build_runtime
from ens_image_operator.controllers.runtime import KubeHandle
from ens_image_operator.reconcile.ports import ObjectChanged, ObjectGone
from ens_image_operator.settings import Settings

BODY = {"metadata": {"namespace": "ns", "name": "web", "uid": "u-1", "resourceVersion": "7"}}


def _api(handle: Callable[[httpx.Request], httpx.Response]) -> KubeApi:
    return KubeApi(Connection(server="http://k8s", token="t0ken"), transport=httpx.MockTransport(handle))


def _stored(version: str, status: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.Response(200, json={**BODY, "metadata": {**BODY["metadata"], "resourceVersion": version},
                                     "status": status or {}})  # fmt: skip


async def test_a_claim_is_conditional_on_the_version_last_read() -> None:
    sent: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return _stored("9")
        sent.append(json.loads(request.content))
        return _stored("10")

    handle_ = KubeHandle(_api(handle), ENS_IMAGE, BODY)
    await handle_.fresh_status()
    await handle_.claim_status({"importStartedAt": "2026-01-01T12:00:00Z"})
    assert sent[0]["metadata"] == {"resourceVersion": "9"}


async def test_a_claim_that_meets_a_conflict_says_the_object_changed() -> None:
    handle_ = KubeHandle(_api(lambda request: httpx.Response(409, json={})), ENS_IMAGE, BODY)
    with pytest.raises(ObjectChanged):
        await handle_.claim_status({"importStartedAt": "2026-01-01T12:00:00Z"})


async def test_a_claim_on_a_deleted_object_says_it_is_gone() -> None:
    handle_ = KubeHandle(_api(lambda request: httpx.Response(404, json={})), ENS_IMAGE, BODY)
    with pytest.raises(ObjectGone):
        await handle_.claim_status({"importStartedAt": "2026-01-01T12:00:00Z"})


async def test_a_plain_status_write_never_clears_a_recorded_image_id() -> None:
    sent: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _stored("8")

    await KubeHandle(_api(handle), ENS_IMAGE, BODY).patch_status({"imageId": None, "importStartedAt": None})
    assert sent[0]["status"] == {"importStartedAt": None}


async def test_a_conflicting_merge_patch_raises_a_conflict() -> None:
    api = _api(lambda request: httpx.Response(409, json={}))
    with pytest.raises(KubeConflict):
        await api.patch_status(ENS_IMAGE, "ns", "web", {"a": 1}, resource_version="3")


@pytest.mark.looptime
async def test_a_throttled_write_is_repeated_after_its_retry_after() -> None:
    loop = asyncio.get_running_loop()
    moments: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        moments.append(loop.time())
        if len(moments) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"}, json={})
        return _stored("8")

    await _api(handle).patch_status(ENS_IMAGE, "ns", "web", {"imageStatus": "Creating"})
    assert len(moments) == 2 and moments[1] - moments[0] >= 3


@pytest.mark.looptime
async def test_a_dropped_connection_is_tried_again() -> None:
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return _stored("8")

    assert await _api(handle).get(ENS_IMAGE, "ns", "web") is not None
    assert len(calls) == 2


def test_the_operator_builds_its_image_reconciler_with_the_listing_lag() -> None:
    kube = KubeApi(Connection(server="http://k8s"))
    runtime = build_runtime(Settings(listing_lag=42), kube)
    assert runtime.images.driver.listing_lag == 42
