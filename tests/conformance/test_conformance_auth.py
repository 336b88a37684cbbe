"""Who may call: signatures from both SDKs, keys, clock skew, replayed nonces and STS tokens."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from alibabacloud_ens20171110 import models as ens
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.utils import parameter_helper
from aliyunsdkens.request.v20171110.DescribeImageInfosRequest import DescribeImageInfosRequest
from sdk_setup import KEY_ID, legacy_send, sdk_signed_headers, v3_client

from ens_image_kit.emulator import RunningEmulator

TWENTY_MINUTES_AGO = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _v3_error(emulator: RunningEmulator, **config: str) -> ClientException:
    client = v3_client(emulator, **config)
    with pytest.raises(ClientException) as raised:
        client.describe_image_infos(ens.DescribeImageInfosRequest())
    return raised.value


def _legacy_error(emulator: RunningEmulator, client: AcsClient | None = None) -> ServerException:
    with pytest.raises(ServerException) as raised:
        legacy_send(emulator, DescribeImageInfosRequest(), client)
    return raised.value


def _assume_role(emulator: RunningEmulator, **extra: str) -> dict[str, str]:
    """Call AssumeRoleWithOIDC the way the credentials library does: an unsigned GET."""
    query = {
        "Action": "AssumeRoleWithOIDC",
        "Format": "JSON",
        "Version": "2015-04-01",
        "DurationSeconds": "3600",
        "RoleArn": "acs:ram::1234567890:role/ens-operator",
        "OIDCProviderArn": "acs:ram::1234567890:oidc-provider/ack-rrsa",
        "OIDCToken": "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl",
        "RoleSessionName": "operator",
    } | extra
    response = httpx.get(f"{emulator.url}/", params=query)
    response.raise_for_status()
    credentials: dict[str, str] = response.json()["Credentials"]
    return credentials


def test_a_wrong_secret_is_signature_does_not_match(emulator: RunningEmulator) -> None:
    error = _v3_error(emulator, access_key_secret="not-the-secret")
    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)


def test_a_wrong_secret_with_the_legacy_signature_is_reported_as_a_bad_secret(
    emulator: RunningEmulator,
) -> None:
    # The legacy SDK recognises our string to sign as its own and renames the error.
    error = _legacy_error(emulator, AcsClient(KEY_ID, "not-the-secret", "cn-beijing"))
    assert error.get_error_code() == "InvalidAccessKeySecret"


def test_an_unknown_key_is_not_found(emulator: RunningEmulator) -> None:
    error = _v3_error(emulator, access_key_id="nobody")
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_a_stale_v3_timestamp_is_expired(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: TWENTY_MINUTES_AGO))
    assert _v3_error(emulator).code == "InvalidTimeStamp.Expired"


def test_a_stale_legacy_timestamp_is_expired(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: TWENTY_MINUTES_AGO)
    assert _legacy_error(emulator).get_error_code() == "InvalidTimeStamp.Expired"


def test_a_reused_v3_nonce_is_refused(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "0123456789abcdef0123456789abcdef"))
    v3_client(emulator).describe_image_infos(ens.DescribeImageInfosRequest())
    assert _v3_error(emulator).code == "SignatureNonceUsed"


def test_a_reused_legacy_nonce_is_refused(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf")
    legacy_send(emulator, DescribeImageInfosRequest())
    assert _legacy_error(emulator).get_error_code() == "SignatureNonceUsed"


def test_an_unsigned_request_is_refused(emulator: RunningEmulator) -> None:
    response = httpx.post(f"{emulator.url}/", params={"Action": "DescribeImageInfos"})
    assert (response.status_code, response.json()["Code"]) == (400, "MissingParameter")


def test_a_request_signed_by_the_sdk_signer_is_accepted(emulator: RunningEmulator) -> None:
    headers = sdk_signed_headers(emulator, "DescribeImageInfos", {"OsType": "windows"})
    response = httpx.post(f"{emulator.url}/", params={"OsType": "windows"}, headers=headers)
    assert response.status_code == 200
    assert {image["OSType"] for image in response.json()["Images"]["Image"]} == {"windows"}


def test_a_tampered_query_is_signature_does_not_match(emulator: RunningEmulator) -> None:
    headers = sdk_signed_headers(emulator, "DescribeImageInfos", {"OsType": "windows"})
    response = httpx.post(f"{emulator.url}/", params={"OsType": "linux"}, headers=headers)
    assert (response.status_code, response.json()["Code"]) == (400, "SignatureDoesNotMatch")


def test_an_unsigned_acs_header_is_incomplete_signature(emulator: RunningEmulator) -> None:
    headers = sdk_signed_headers(emulator, "DescribeImageInfos", {})
    response = httpx.post(f"{emulator.url}/", headers={**headers, "x-acs-extra": "unsigned"})
    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


def test_a_timestamp_from_the_future_is_expired(emulator: RunningEmulator) -> None:
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = sdk_signed_headers(emulator, "DescribeImageInfos", {}, date=later)
    response = httpx.post(f"{emulator.url}/", headers=headers)
    assert response.json()["Code"] == "InvalidTimeStamp.Expired"


def test_sts_credentials_from_assume_role_with_oidc_are_accepted(emulator: RunningEmulator) -> None:
    credentials = _assume_role(emulator)
    assert credentials["AccessKeyId"].startswith("STS.")
    client = v3_client(
        emulator,
        access_key_id=credentials["AccessKeyId"],
        access_key_secret=credentials["AccessKeySecret"],
        security_token=credentials["SecurityToken"],
    )
    assert client.describe_image_infos(ens.DescribeImageInfosRequest()).body.images.image


def test_sts_credentials_work_with_the_legacy_signature(emulator: RunningEmulator) -> None:
    credentials = _assume_role(emulator)
    sts = StsTokenCredential(
        credentials["AccessKeyId"], credentials["AccessKeySecret"], credentials["SecurityToken"]
    )
    client = AcsClient(region_id="cn-beijing", credential=sts)
    assert legacy_send(emulator, DescribeImageInfosRequest(), client)["Images"]["Image"]


def test_an_sts_key_with_another_token_is_refused(emulator: RunningEmulator) -> None:
    credentials = _assume_role(emulator)
    error = _v3_error(
        emulator,
        access_key_id=credentials["AccessKeyId"],
        access_key_secret=credentials["AccessKeySecret"],
        security_token="forged",
    )
    assert error.code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_an_expired_sts_key_is_refused(emulator: RunningEmulator) -> None:
    httpx.post(f"{emulator.admin_url}/config", json={"stsDurationSeconds": 0}).raise_for_status()
    credentials = _assume_role(emulator)
    error = _v3_error(
        emulator,
        access_key_id=credentials["AccessKeyId"],
        access_key_secret=credentials["AccessKeySecret"],
        security_token=credentials["SecurityToken"],
    )
    assert error.code == "InvalidSecurityToken.Expired"


def test_assume_role_reports_when_the_key_expires(emulator: RunningEmulator) -> None:
    credentials = _assume_role(emulator, DurationSeconds="900")
    expires = dt.datetime.strptime(credentials["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    remaining = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 880 <= remaining <= 900


def test_assume_role_without_a_token_is_missing_parameter(emulator: RunningEmulator) -> None:
    response = httpx.get(
        f"{emulator.url}/",
        params={"Action": "AssumeRoleWithOIDC", "RoleArn": "acs:ram::1:role/r", "OIDCProviderArn": "p"},
    )
    assert (response.status_code, response.json()["Code"]) == (400, "MissingParameter")
