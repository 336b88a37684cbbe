"""Injected faults reach the SDKs as the exceptions real throttling and outages raise."""

from __future__ import annotations

import httpx
import pytest
from alibabacloud_ens20171110 import models as ens
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServerException
from aliyunsdkens.request.v20171110.DescribeImageInfosRequest import DescribeImageInfosRequest
from darabonba.exceptions import UnretryableException
from darabonba.policy.retry import RetryOptions
from darabonba.runtime import RuntimeOptions
from sdk_setup import import_request, legacy_send, v3_client

from ens_image_kit.emulator import RunningEmulator


def _fault(admin: httpx.Client, **rule: object) -> None:
    admin.post("/faults", json=rule).raise_for_status()


def _infos(emulator: RunningEmulator, **config: object) -> object:
    return v3_client(emulator, **config).describe_image_infos(ens.DescribeImageInfosRequest())


def test_throttling_with_retry_after_raises_throttling_exception(
    emulator: RunningEmulator, admin: httpx.Client
) -> None:
    _fault(admin, action="DescribeImageInfos", retryAfterMs=1500)
    with pytest.raises(ThrottlingException) as raised:
        _infos(emulator)
    assert (raised.value.code, raised.value.status_code, raised.value.retry_after) == (
        "Throttling.User",
        400,
        1500,
    )


def test_throttling_without_retry_after_is_a_client_error(
    emulator: RunningEmulator, admin: httpx.Client
) -> None:
    _fault(admin, action="*")
    with pytest.raises(ClientException) as raised:
        _infos(emulator)
    assert raised.value.code == "Throttling.User"


def test_throttling_reaches_the_legacy_sdk(emulator: RunningEmulator, admin: httpx.Client) -> None:
    _fault(admin, action="DescribeImageInfos")
    with pytest.raises(LegacyServerException) as raised:
        legacy_send(emulator, DescribeImageInfosRequest())
    assert raised.value.get_error_code() == "Throttling.User"


def test_a_fault_on_one_action_leaves_the_others_alone(
    emulator: RunningEmulator, admin: httpx.Client
) -> None:
    _fault(admin, action="ImportImage")
    assert _infos(emulator)


def test_a_server_error_raises_server_exception(emulator: RunningEmulator, admin: httpx.Client) -> None:
    _fault(admin, code="ServiceUnavailable", status=503, message="The service is unavailable.")
    with pytest.raises(ServerException) as raised:
        _infos(emulator)
    assert (raised.value.code, raised.value.status_code) == ("ServiceUnavailable", 503)


def test_a_dropped_connection_is_a_transport_failure(emulator: RunningEmulator, admin: httpx.Client) -> None:
    _fault(admin, drop=True)
    with pytest.raises(UnretryableException):
        _infos(emulator)
    assert admin.get("/calls").json()["DescribeImageInfos"] == {"Dropped": 1}


def test_latency_beyond_the_read_timeout_times_out(emulator: RunningEmulator, admin: httpx.Client) -> None:
    _fault(admin, code=None, latency=0.5)
    with pytest.raises(UnretryableException):
        _infos(emulator, read_timeout=100)


def test_the_sdk_retries_through_occasional_throttling(
    emulator: RunningEmulator, admin: httpx.Client
) -> None:
    admin.post("/config", json={"seed": 1}).raise_for_status()
    _fault(admin, rate=0.5, retryAfterMs=10)
    retry = RetryOptions(
        {
            "retryable": True,
            "retryCondition": [{"maxAttempts": 10, "errorCode": ["Throttling.User"]}],
        }
    )
    client = v3_client(emulator, retry_options=retry)
    body = client.describe_image_infos_with_options(ens.DescribeImageInfosRequest(), RuntimeOptions()).body
    assert body.images.image
    outcomes = admin.get("/calls").json()["DescribeImageInfos"]
    assert outcomes["OK"] == 1
    assert outcomes["Throttling.User"] >= 1


def test_an_answer_dropped_after_the_import_leaves_the_image_behind(
    emulator: RunningEmulator, admin: httpx.Client
) -> None:
    _fault(admin, action="ImportImage", drop=True, after=True)
    with pytest.raises(UnretryableException):
        v3_client(emulator).import_image(import_request("half-done"))
    assert [image["ImageName"] for image in admin.get("/images").json()] == ["half-done"]


def test_a_call_dropped_before_the_import_creates_nothing(
    emulator: RunningEmulator, admin: httpx.Client
) -> None:
    _fault(admin, action="ImportImage", drop=True)
    with pytest.raises(UnretryableException):
        v3_client(emulator).import_image(import_request("never"))
    assert admin.get("/images").json() == []
