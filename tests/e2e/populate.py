"""Fill the local Kubernetes API with EnsImages that look already reconciled, as after a restart."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import yaml

from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, LocalStack
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import StaticCredentials
from ens_image_operator.ens.models import ImportImageRequest

GROUP_VERSION = "ens.image-operator.io/v1alpha1"
STABLE_IMAGE_ID = "m-stable"


def api(stack: LocalStack, namespace: str = "default") -> tuple[str, dict[str, str]]:
    """The EnsImage collection URL of ``namespace`` and the headers that authenticate to it."""
    config = yaml.safe_load(stack.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"].get("token")
    base = f"{server}/apis/{GROUP_VERSION}/namespaces/{namespace}/ensimages"
    return base, ({"Authorization": f"Bearer {token}"} if token else {})


def _stable_status(image_id: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    conditions = [
        {
            "type": kind,
            "status": status,
            "reason": "Available",
            "lastTransitionTime": now,
            "observedGeneration": 1,
        }
        for kind, status in (("Ready", "True"), ("Reconciling", "False"), ("Stalled", "False"))
    ]
    return {
        "imageId": image_id,
        "imageStatus": "Available",
        "observedGeneration": 1,
        "conditions": conditions,
    }


async def available_image(stack: LocalStack, name: str = "stable-source") -> str:
    """Import one image into the emulator and wait until it is Available; its id."""
    client = EnsClient(StaticCredentials(DEFAULT_KEY_ID, DEFAULT_KEY_SECRET), endpoint=stack.emulator_url)
    try:
        request = ImportImageRequest(
            image_name=name,
            os_type="linux",
            oss_bucket="images",
            oss_object="web.qcow2",
            oss_region="cn-beijing",
        )
        image_id = await client.import_image(request)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [image async for image in client.iter_self_images(image_id=image_id)]
            if found and found[0].status == "Available":
                return image_id
            await asyncio.sleep(0.5)
        raise AssertionError(f"image {image_id} did not become Available")
    finally:
        await client.aclose()


async def create_stable(
    stack: LocalStack, count: int, prefix: str = "stable", image_id: str = STABLE_IMAGE_ID
) -> None:
    """Create ``count`` adopted EnsImages with kopf's annotations, our finalizer and a Ready status."""
    base, headers = api(stack)
    spec = {
        "imageId": image_id,
        "osType": "linux",
        "architecture": "x86_64",
        "imageFormat": "qcow2",
        "computeType": "ens_vm",
    }
    handled = json.dumps({"spec": spec}) + "\n"
    status = _stable_status(image_id)
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:

        async def one(index: int) -> None:
            name = f"{prefix}-{index}"
            metadata = {
                "name": name,
                "finalizers": ["ens.image-operator.io/finalizer"],
                "annotations": {
                    "ens.image-operator.io/last-handled-configuration": handled,
                    "ens.image-operator.io/kopf-managed": "yes",
                },
            }
            async with gate:
                body = {"apiVersion": GROUP_VERSION, "kind": "EnsImage", "metadata": metadata, "spec": spec}
                (await http.post(base, json=body)).raise_for_status()
                merge = {"Content-Type": "application/merge-patch+json"}
                response = await http.patch(f"{base}/{name}/status", json={"status": status}, headers=merge)
                response.raise_for_status()

        await asyncio.gather(*(one(index) for index in range(count)))
