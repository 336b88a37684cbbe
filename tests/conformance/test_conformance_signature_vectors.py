"""The emulator's verifier reproduces every published signature vector of the team's wire notes."""

from __future__ import annotations

import pytest

from ens_image_kit.emulator.signing import (
    EMPTY_BODY_SHA256,
    canonical_query,
    rpc_signature,
    rpc_string_to_sign,
    v3_signature,
    v3_string_to_sign,
)

SIGNED = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
]
ENS_QUERY = [("ImageId", "m-5c2a0d3e9f"), ("PageNumber", "1"), ("PageSize", "50")]


def _headers(host: str, action: str, version: str, date: str, nonce: str) -> dict[str, list[str]]:
    return {
        "host": [host],
        "x-acs-action": [action],
        "x-acs-version": [version],
        "x-acs-date": [date],
        "x-acs-signature-nonce": [nonce],
        "x-acs-content-sha256": [EMPTY_BODY_SHA256],
    }


def _ens_headers(action: str = "DescribeSelfImages") -> dict[str, list[str]]:
    return _headers(
        "ens.aliyuncs.com", action, "2017-11-10", "2025-01-01T00:00:00Z", "0123456789abcdef0123456789abcdef"
    )


@pytest.mark.parametrize(
    ("date", "nonce", "expected"),
    [
        (
            "2023-10-26T10:22:32Z",
            "3156853299f313e23d1673dc12e1703d",
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0",
        ),
        (
            "2023-10-26T09:01:01Z",
            "d410180a5abf7fe235dd9b74aca91fc0",
            "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804",
        ),
    ],
)
def test_v3_matches_alibabas_published_examples(date: str, nonce: str, expected: str) -> None:
    headers = _headers("ecs.cn-shanghai.aliyuncs.com", "RunInstances", "2014-05-26", date, nonce)
    query = [("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"), ("RegionId", "cn-shanghai")]
    string_to_sign = v3_string_to_sign("POST", "/", query, headers, SIGNED, EMPTY_BODY_SHA256)
    assert v3_signature("YourAccessKeySecret", string_to_sign) == expected


def test_v3_ens_vector() -> None:
    string_to_sign = v3_string_to_sign("POST", "/", ENS_QUERY, _ens_headers(), SIGNED, EMPTY_BODY_SHA256)
    assert string_to_sign.endswith("df58509e405cc75da1fbda7ae8d9467406b7cbe4cc67ed92351d2b66f56f6555")
    assert v3_signature("testsecret", string_to_sign) == (
        "9d2cf62c143a11e3dee63fb3318141ecfdceb2ced80a70c6c6e3f684b898e598"
    )


def test_v3_sts_vector_signs_the_token_headers() -> None:
    headers = _ens_headers() | {"x-acs-accesskey-id": ["STS.NTest"], "x-acs-security-token": ["CAIS-token"]}
    signed = sorted([*SIGNED, "x-acs-accesskey-id", "x-acs-security-token"])
    string_to_sign = v3_string_to_sign("POST", "/", ENS_QUERY, headers, signed, EMPTY_BODY_SHA256)
    assert v3_signature("stssecret", string_to_sign) == (
        "6c53cf31b31b30c38dffb4cbc6d20fc9bfbf2d2336de9b68078418ac7e94df85"
    )


def test_v3_encoding_vector() -> None:
    query = [
        ("ImageName", "my image*~"),
        ("OSSObject", "dir/ub 22.qcow2"),
        ("DiskDeviceMapping", '[{"OSSBucket":"b","OSSObject":"d.qcow2","OSSRegion":"cn-beijing"}]'),
    ]
    assert canonical_query(query) == (
        "DiskDeviceMapping=%5B%7B%22OSSBucket%22%3A%22b%22%2C%22OSSObject%22%3A%22d.qcow2%22%2C"
        "%22OSSRegion%22%3A%22cn-beijing%22%7D%5D&ImageName=my%20image%2A~&OSSObject=dir%2Fub%2022.qcow2"
    )
    string_to_sign = v3_string_to_sign(
        "POST", "/", query, _ens_headers("ImportImage"), SIGNED, EMPTY_BODY_SHA256
    )
    assert v3_signature("testsecret", string_to_sign) == (
        "03b6d074a1194b9f73dcb6d3833cc02ca266191a59a440689eb16afcc06706c7"
    )


def test_rpc_matches_alibabas_published_example() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    string_to_sign = rpc_string_to_sign("GET", params.items())
    assert rpc_signature("testsecret", string_to_sign) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_rpc_ens_vector_ignores_the_signature_parameter() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeSelfImages",
        "Format": "JSON",
        "ImageId": "m-5c2a0d3e9f",
        "PageNumber": "1",
        "PageSize": "50",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "0123456789abcdef0123456789abcdef",
        "SignatureVersion": "1.0",
        "Timestamp": "2025-01-01T00:00:00Z",
        "Version": "2017-11-10",
        "Signature": "whatever-was-sent",
    }
    string_to_sign = rpc_string_to_sign("POST", params.items())
    assert rpc_signature("testsecret", string_to_sign) == "QmQU1MUl1aO3FxHFQUSmXLC5jZU="
