"""Pointing the official Alibaba SDKs at an emulator, and small helpers shared by the tests."""

from __future__ import annotations

import json
from typing import Any

import httpx
from alibabacloud_ens20171110 import models as ens
from alibabacloud_ens20171110.client import Client
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from darabonba.request import DaraRequest

from ens_image_kit.emulator import RunningEmulator

KEY_ID, KEY_SECRET = "testid", "testsecret"
# A second account, added through the admin API by the ``other`` fixture.
OTHER_KEY_ID, OTHER_KEY_SECRET, OTHER_ACCOUNT_ID = "otherid", "othersecret", "2000000000000002"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


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


def sdk_signed_headers(
    emulator: RunningEmulator,
    action: str,
    query: dict[str, str],
    *,
    secret: str = KEY_SECRET,
    date: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers of a V3 request signed by the SDK's own signer function, for hand-made requests."""
    request = DaraRequest()
    request.method, request.pathname, request.query = "POST", "/", dict(query)
    request.headers = {
        "host": emulator.endpoint,
        "x-acs-action": action,
        "x-acs-version": "2017-11-10",
        "x-acs-date": date or Utils.get_timestamp(),
        "x-acs-signature-nonce": nonce or Utils.get_nonce(),
        "x-acs-content-sha256": EMPTY_SHA256,
    }
    authorization = Utils.get_authorization(request, "ACS3-HMAC-SHA256", EMPTY_SHA256, KEY_ID, secret)
    return {**request.headers, "Authorization": authorization}
