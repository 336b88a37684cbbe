"""Secrets never show up in a repr, a str, a log line or an exception text."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import (
    Credentials,
    EnvironmentCredentials,
    RrsaCredentials,
    StaticCredentials,
    default_chain,
)
from ens_image_operator.ens.errors import EnsError
from ens_image_operator.ens.ratelimit import RateLimiter

SECRET = "CANARY-SECRET-5f1c"
TOKEN = "CANARY-TOKEN-9b7e"
OIDC = "CANARY-OIDC-JWT-31d4"
CANARIES = (SECRET, TOKEN, OIDC)


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


def sts_handler(request: httpx.Request) -> httpx.Response:
    expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    credentials = {"AccessKeyId": "STS.id", "AccessKeySecret": SECRET, "SecurityToken": TOKEN}
    return httpx.Response(200, json={"Credentials": credentials | {"Expiration": expiration}})


@pytest.fixture
def oidc_token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(OIDC)
    return path


def test_credentials_repr_and_str_hide_secret_and_token() -> None:
    creds = Credentials("AKID", SECRET, TOKEN)
    assert "AKID" in repr(creds)
    assert_clean(repr(creds))
    assert_clean(str(creds))


async def test_providers_repr_hides_secrets(oidc_token_file: Path) -> None:
    providers = [
        StaticCredentials("AKID", SECRET, TOKEN),
        EnvironmentCredentials(),
        RrsaCredentials("role", "provider", str(oidc_token_file), "https://sts.example.test"),
        default_chain("https://sts.example.test"),
    ]
    for provider in providers:
        assert_clean(repr(provider))
        assert_clean(str(provider))


async def test_rrsa_refresh_and_signed_calls_log_no_secret(
    oidc_token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = RrsaCredentials(
        "role", "provider", str(oidc_token_file), "https://sts.example.test",
        transport=httpx.MockTransport(sts_handler),
    )  # fmt: skip
    answers = iter([httpx.Response(503, json={"Code": "ServiceUnavailable"}), httpx.Response(200, json={})])
    ens = EnsClient(
        provider,
        endpoint="https://ens.example.test",
        transport=httpx.MockTransport(lambda request: next(answers)),
        limiter=RateLimiter(qps=1000, burst=1000),
        backoff_base=0.001,
    )
    async with ens:
        await ens.delete_image("m-1")
    assert "AssumeRoleWithOIDC" in caplog.text  # the STS request was logged, so redaction was exercised
    assert_clean(caplog.text)


async def test_denied_answer_text_carries_no_secret() -> None:
    def deny(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"Code": "SignatureDoesNotMatch", "Message": "string to sign is: POST"}
        )

    ens = EnsClient(
        StaticCredentials("AKID", SECRET, TOKEN),
        endpoint="https://ens.example.test",
        transport=httpx.MockTransport(deny),
    )
    async with ens:
        with pytest.raises(EnsError) as caught:
            await ens.delete_image("m-1")
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))


async def test_sts_transport_failure_text_carries_no_token(oidc_token_file: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}")

    provider = RrsaCredentials(
        "role", "provider", str(oidc_token_file), "https://sts.example.test",
        transport=httpx.MockTransport(refuse),
    )  # fmt: skip
    with pytest.raises(EnsError) as caught:
        await provider.get()
    assert_clean(str(caught.value))
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_client_repr_shows_no_credentials() -> None:
    ens = EnsClient(StaticCredentials("AKID", SECRET, TOKEN), endpoint="https://ens.example.test")
    async with ens:
        assert_clean(repr(ens))
