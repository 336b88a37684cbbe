"""A real kopf operator reconciles against the sandbox: finalizer, create handler, status, delete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import kopf
from fidelity_kit import GROUP, TEST_CRD

from ens_image_kit.sandbox.server import running_sandbox

BASE = f"/apis/{GROUP}/v1alpha1/namespaces/default/gadgets"


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


def _registry(url: str) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, scheme="Bearer", token="sandbox")

    @kopf.on.startup(registry=registry)
    def tune(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = True
        settings.watching.server_timeout = 10

    @kopf.on.create(GROUP, "v1alpha1", "gadgets", registry=registry)
    async def created(patch: kopf.Patch, **_: Any) -> None:
        patch.status["phase"] = "Running"

    @kopf.on.delete(GROUP, "v1alpha1", "gadgets", registry=registry)
    async def deleted(**_: Any) -> None:
        return None

    return registry


async def test_kopf_creates_reconciles_and_finalizes_a_resource() -> None:
    async with running_sandbox(crds=[TEST_CRD]) as sandbox:
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        operator = asyncio.create_task(
            kopf.operator(registry=_registry(sandbox.url), clusterwide=True, standalone=True, stop_flag=stop)
        )
        try:
            async with httpx.AsyncClient(base_url=sandbox.url) as http:
                body = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Gadget",
                        "metadata": {"name": "g1"}, "spec": {"name": "gadget"}}  # fmt: skip
                assert (await http.post(BASE, json=body)).status_code == 201

                async def running() -> bool:
                    obj = (await http.get(f"{BASE}/g1")).json()
                    return obj.get("status", {}).get("phase") == "Running" and bool(
                        obj["metadata"].get("finalizers")
                    )

                assert await _until(running)
                await http.delete(f"{BASE}/g1")

                async def gone() -> bool:
                    return (await http.get(f"{BASE}/g1")).status_code == 404

                assert await _until(gone)
        finally:
            stop.set_result(None)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(operator, 10)
