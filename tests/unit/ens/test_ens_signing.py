"""The signer reproduces every published and SDK-derived signature vector."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from alibabacloud_tea_openapi.utils import (  # type: ignore[import-untyped]
    get_canonical_query_string as sdk_canonical_query,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ens_image_operator.ens.auth import (
    EMPTY_SHA256,
    Acs3Auth,
    canonical_query,
    canonical_request,
    rpc_signature,
    sign,
    string_to_sign,
)
from ens_image_operator.ens.credentials import Credentials, StaticCredentials

DOC_QUERY = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}


def doc_headers(date: str, nonce: str) -> dict[str, str]:
    return {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-version": "2014-05-26",
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": EMPTY_SHA256,
    }


def ens_headers(action: str = "DescribeSelfImages") -> dict[str, str]:
    return {
        "host": "ens.aliyuncs.com",
        "x-acs-action": action,
        "x-acs-version": "2017-11-10",
        "x-acs-date": "2025-01-01T00:00:00Z",
        "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef",
        "x-acs-content-sha256": EMPTY_SHA256,
    }


ENS_QUERY = {"ImageId": "m-5c2a0d3e9f", "PageNumber": "1", "PageSize": "50"}


def signature(query: dict[str, str], headers: dict[str, str], secret: str) -> str:
    return sign(secret, string_to_sign(canonical_request("POST", "/", query, headers)))


def test_empty_body_hash_is_the_documented_constant() -> None:
    assert EMPTY_SHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_v3_doc_string_to_sign_hash_matches_alibaba_example() -> None:
    canonical = canonical_request(
        "POST", "/", DOC_QUERY, doc_headers("2023-10-26T10:22:32Z", "3156853299f313e23d1673dc12e1703d")
    )
    expected = "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    assert string_to_sign(canonical) == f"ACS3-HMAC-SHA256\n{expected}"


def test_v3_doc_signature_matches_alibaba_example() -> None:
    headers = doc_headers("2023-10-26T10:22:32Z", "3156853299f313e23d1673dc12e1703d")
    assert (
        signature(DOC_QUERY, headers, "YourAccessKeySecret")
        == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_v3_doc2_signature_matches_alibaba_example() -> None:
    headers = doc_headers("2023-10-26T09:01:01Z", "d410180a5abf7fe235dd9b74aca91fc0")
    assert (
        signature(DOC_QUERY, headers, "YourAccessKeySecret")
        == "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
    )


def test_v3_a_ens_string_to_sign_hash() -> None:
    canonical = canonical_request("POST", "/", ENS_QUERY, ens_headers())
    assert canonical.split("\n")[-2] == (
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    )
    expected = "df58509e405cc75da1fbda7ae8d9467406b7cbe4cc67ed92351d2b66f56f6555"
    assert string_to_sign(canonical) == f"ACS3-HMAC-SHA256\n{expected}"


def test_v3_a_ens_signature() -> None:
    assert (
        signature(ENS_QUERY, ens_headers(), "testsecret")
        == "9d2cf62c143a11e3dee63fb3318141ecfdceb2ced80a70c6c6e3f684b898e598"
    )


def test_v3_b_sts_headers_are_signed() -> None:
    headers = ens_headers() | {"x-acs-accesskey-id": "STS.NTest", "x-acs-security-token": "CAIS-token"}
    assert (
        signature(ENS_QUERY, headers, "stssecret")
        == "6c53cf31b31b30c38dffb4cbc6d20fc9bfbf2d2336de9b68078418ac7e94df85"
    )


V3_C_QUERY = {
    "ImageName": "my image*~",
    "OSSObject": "dir/ub 22.qcow2",
    "DiskDeviceMapping": '[{"OSSBucket":"b","OSSObject":"d.qcow2","OSSRegion":"cn-beijing"}]',
}


def test_v3_c_canonical_query_encodes_space_star_slash_and_keeps_tilde() -> None:
    assert canonical_query(V3_C_QUERY) == (
        "DiskDeviceMapping=%5B%7B%22OSSBucket%22%3A%22b%22%2C%22OSSObject%22%3A%22d.qcow2%22%2C"
        "%22OSSRegion%22%3A%22cn-beijing%22%7D%5D&ImageName=my%20image%2A~&OSSObject=dir%2Fub%2022.qcow2"
    )


def test_v3_c_signature() -> None:
    assert (
        signature(V3_C_QUERY, ens_headers("ImportImage"), "testsecret")
        == "03b6d074a1194b9f73dcb6d3833cc02ca266191a59a440689eb16afcc06706c7"
    )


def test_canonical_query_drops_none_and_keeps_empty_values() -> None:
    assert canonical_query({"B": "", "A": None, "C": "x"}) == "B=&C=x"


def test_rpc_doc_signature_matches_alibaba_example() -> None:
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
    assert rpc_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_rpc_ens_signature() -> None:
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
    }
    assert rpc_signature("POST", params, "testsecret") == "QmQU1MUl1aO3FxHFQUSmXLC5jZU="


def fixed_auth(provider: StaticCredentials) -> Acs3Auth:
    return Acs3Auth(
        provider,
        clock=lambda: datetime(2025, 1, 1, tzinfo=UTC),
        nonce=lambda: "0123456789abcdef0123456789abcdef",
    )


async def signed_request(provider: StaticCredentials, url: str, action: str) -> httpx.Request:
    request = httpx.Request("POST", url, headers={"x-acs-action": action, "x-acs-version": "2017-11-10"})
    flow = fixed_auth(provider).async_auth_flow(request)
    return await flow.__anext__()


async def test_auth_signs_a_real_request_as_vector_v3_a() -> None:
    request = await signed_request(
        StaticCredentials("testid", "testsecret"),
        "https://ens.aliyuncs.com/?ImageId=m-5c2a0d3e9f&PageNumber=1&PageSize=50",
        "DescribeSelfImages",
    )
    assert request.headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=testid,"
        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=9d2cf62c143a11e3dee63fb3318141ecfdceb2ced80a70c6c6e3f684b898e598"
    )


async def test_auth_signs_sts_credentials_as_vector_v3_b() -> None:
    request = await signed_request(
        StaticCredentials("STS.NTest", "stssecret", "CAIS-token"),
        "https://ens.aliyuncs.com/?ImageId=m-5c2a0d3e9f&PageNumber=1&PageSize=50",
        "DescribeSelfImages",
    )
    assert request.headers["x-acs-security-token"] == "CAIS-token"
    assert request.headers["Authorization"].endswith(
        "Signature=6c53cf31b31b30c38dffb4cbc6d20fc9bfbf2d2336de9b68078418ac7e94df85"
    )


async def test_auth_signs_plus_encoded_wire_query_as_its_decoded_values() -> None:
    # Some encoders put a space as "+" on the wire: the signature is over the decoded value.
    request = await signed_request(
        StaticCredentials("testid", "testsecret"),
        "https://ens.aliyuncs.com/?ImageName=my+image%2A~&OSSObject=dir%2Fub+22.qcow2"
        "&DiskDeviceMapping=%5B%7B%22OSSBucket%22%3A%22b%22%2C%22OSSObject%22%3A%22d.qcow2%22%2C"
        "%22OSSRegion%22%3A%22cn-beijing%22%7D%5D",
        "ImportImage",
    )
    assert request.headers["Authorization"].endswith(
        "Signature=03b6d074a1194b9f73dcb6d3833cc02ca266191a59a440689eb16afcc06706c7"
    )


WIRE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
KEYS = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_"), min_size=1
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, WIRE_TEXT, max_size=6))
def test_canonical_query_equals_the_official_sdk_for_any_values(params: dict[str, str]) -> None:
    assert canonical_query(params) == sdk_canonical_query(params)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, WIRE_TEXT, min_size=1, max_size=6))
def test_any_query_value_is_signed_as_it_will_be_decoded(params: dict[str, str]) -> None:
    url = httpx.URL("https://ens.aliyuncs.com/", params=params)
    request = httpx.Request(
        "POST", url, headers={"x-acs-action": "DescribeSelfImages", "x-acs-version": "2017-11-10"}
    )
    fixed_auth(StaticCredentials("testid", "testsecret")).apply(request, Credentials("testid", "testsecret"))
    headers = {name: request.headers[name] for name in ens_headers()}
    assert request.headers["Authorization"].endswith(f"Signature={signature(params, headers, 'testsecret')}")
