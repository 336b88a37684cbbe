"""Pointing the official Alibaba SDKs at an emulator, and small helpers shared by the tests."""

from __future__ import annotations

import json
from typing import Any

import httpx
from alibabacloud_ens20171110 import models as ens
from alibabacloud_ens20171110.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from ens_image_operator.emulator import RunningEmulator

KEY_ID, KEY_SECRET = "testid", "testsecret"


def v3_client(emulator: RunningEmulator, **overrides: Any) -> Client:
    """The current SDK over plain HTTP to the emulator's host:port, the test key unless overridden."""
    options: dict[str, Any] = {
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "endpoint": emulator.endpoint,
        "protocol": "http",
    } | overrides
    return Client(Config(**options))


def legacy_send(
    emulator: RunningEmulator, request: RpcRequest, client: AcsClient | None = None
) -> dict[str, Any]:
    """Send a legacy aliyunsdkens request (HMAC-SHA1 query signature); returns the parsed body."""
    client = client or AcsClient(KEY_ID, KEY_SECRET, "cn-beijing", auto_retry=False)
    request.set_endpoint(emulator.endpoint)
    request.set_protocol_type("http")
    body: dict[str, Any] = json.loads(client.do_action_with_exception(request))
    return body


def import_request(name: str = "ubuntu-22-golden", **overrides: Any) -> ens.ImportImageRequest:
    """A valid ImportImage request of one system disk; fields can be overridden."""
    fields: dict[str, Any] = {
        "architecture": "x86_64",
        "compute_type": "ens_vm",
        "image_format": "qcow2",
        "image_name": name,
        "ostype": "linux",
        "disk_device_mapping": [
            ens.ImportImageRequestDiskDeviceMapping(
                ossbucket="images", ossobject="ubuntu/22.04.qcow2", ossregion="cn-beijing"
            )
        ],
    } | overrides
    return ens.ImportImageRequest(**fields)


def force_status(admin: httpx.Client, image_id: str, **fields: str) -> None:
    """Push an image to a status (or ExportStatus) through the admin API."""
    admin.post(f"/images/{image_id}", json=fields).raise_for_status()
