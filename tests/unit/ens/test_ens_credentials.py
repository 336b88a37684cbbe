"""Credentials come from a Secret, the environment or RRSA; RRSA is cached and refreshed early."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ens_image_operator.ens.credentials import (
    Credentials,
    EnvironmentCredentials,
    RrsaCredentials,
    StaticCredentials,
    default_chain,
)
from ens_image_operator.ens.errors import CredentialsError, Denied, Transient

ENV_VARS = [
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "ALIBABA_CLOUD_ROLE_SESSION_NAME",
]
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("oidc-jwt-token\n")
    return path


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeSts:
    """An STS endpoint that hands out numbered credentials valid for one hour."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        n = len(self.requests)
        expiration = (self.clock() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return httpx.Response(
            200,
            json={
                "RequestId": f"sts-{n}",
                "Credentials": {
                    "AccessKeyId": f"STS.id{n}",
                    "AccessKeySecret": f"secret{n}",
                    "SecurityToken": f"token{n}",
                    "Expiration": expiration,
                },
            },
        )


def rrsa(
    token_file: Path, handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock
) -> RrsaCredentials:
    return RrsaCredentials(
        "acs:ram::1:role/ens",
        "acs:ram::1:oidc-provider/ack",
        str(token_file),
        "https://sts.example.test",
        transport=httpx.MockTransport(handler),
        clock=clock,
    )


async def test_static_credentials_are_returned_as_given() -> None:
    creds = await StaticCredentials("id", "secret", "token").get()
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == ("id", "secret", "token")


def test_static_credentials_without_secret_are_rejected() -> None:
    with pytest.raises(CredentialsError):
        StaticCredentials("id", "")


async def test_environment_credentials_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = EnvironmentCredentials()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "later-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "later-secret")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "later-token")
    assert await provider.get() == Credentials("later-id", "later-secret", "later-token")


async def test_missing_environment_credentials_name_the_variables() -> None:
    with pytest.raises(CredentialsError) as caught:
        await EnvironmentCredentials().get()
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(caught.value)
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in str(caught.value)


async def test_rrsa_calls_assume_role_with_oidc_anonymously(token_file: Path) -> None:
    clock = FakeClock()
    sts = FakeSts(clock)
    creds = await rrsa(token_file, sts, clock).get()
    request = sts.requests[0]
    params = request.url.params
    assert request.method == "GET"
    assert "authorization" not in request.headers
    assert params["Action"] == "AssumeRoleWithOIDC"
    assert params["Version"] == "2015-04-01"
    assert params["RoleArn"] == "acs:ram::1:role/ens"
    assert params["OIDCProviderArn"] == "acs:ram::1:oidc-provider/ack"
    assert params["OIDCToken"] == "oidc-jwt-token"
    assert params["DurationSeconds"] == "3600"
    assert (creds.access_key_id, creds.security_token) == ("STS.id1", "token1")


async def test_rrsa_credentials_are_cached(token_file: Path) -> None:
    clock = FakeClock()
    sts = FakeSts(clock)
    provider = rrsa(token_file, sts, clock)
    await provider.get()
    clock.now += timedelta(minutes=44)
    creds = await provider.get()
    assert (len(sts.requests), creds.access_key_id) == (1, "STS.id1")


async def test_rrsa_refreshes_fifteen_minutes_before_expiry(token_file: Path) -> None:
    clock = FakeClock()
    sts = FakeSts(clock)
    provider = rrsa(token_file, sts, clock)
    await provider.get()
    clock.now += timedelta(minutes=45, seconds=1)
    creds = await provider.get()
    assert (len(sts.requests), creds.access_key_id) == (2, "STS.id2")


async def test_rrsa_refresh_margin_is_configurable(token_file: Path) -> None:
    clock = FakeClock()
    sts = FakeSts(clock)
    provider = RrsaCredentials(
        "r", "p", str(token_file), "https://sts.example.test",
        refresh_before=60, transport=httpx.MockTransport(sts), clock=clock,
    )  # fmt: skip
    await provider.get()
    clock.now += timedelta(minutes=58)
    await provider.get()
    assert len(sts.requests) == 1


@pytest.mark.looptime
async def test_concurrent_callers_share_one_refresh(token_file: Path) -> None:
    clock = FakeClock()
    calls: list[httpx.Request] = []
    sts = FakeSts(clock)

    async def slow_sts(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await asyncio.sleep(0.01)
        return sts(request)

    provider = rrsa(token_file, slow_sts, clock)  # type: ignore[arg-type]
    results = await asyncio.gather(*(provider.get() for _ in range(10)))
    assert len(calls) == 1
    assert {creds.access_key_id for creds in results} == {"STS.id1"}


async def test_sts_error_answer_is_classified(token_file: Path) -> None:
    def deny(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"Code": "NoPermission", "Message": "no", "RequestId": "s1"})

    with pytest.raises(Denied):
        await rrsa(token_file, deny, FakeClock()).get()


async def test_unreachable_sts_is_transient(token_file: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(Transient):
        await rrsa(token_file, refuse, FakeClock()).get()


async def test_failed_refresh_keeps_credentials_that_are_still_valid(token_file: Path) -> None:
    clock = FakeClock()
    sts = FakeSts(clock)
    failing = False

    def flaky(request: httpx.Request) -> httpx.Response:
        if failing:
            return httpx.Response(503, json={"Code": "ServiceUnavailable"})
        return sts(request)

    provider = rrsa(token_file, flaky, clock)
    await provider.get()
    failing = True
    clock.now += timedelta(minutes=50)
    assert (await provider.get()).access_key_id == "STS.id1"


async def test_failed_refresh_after_expiry_raises(token_file: Path) -> None:
    clock = FakeClock()
    sts = FakeSts(clock)
    failing = False

    def flaky(request: httpx.Request) -> httpx.Response:
        if failing:
            return httpx.Response(503, json={"Code": "ServiceUnavailable"})
        return sts(request)

    provider = rrsa(token_file, flaky, clock)
    await provider.get()
    failing = True
    clock.now += timedelta(minutes=61)
    with pytest.raises(Transient):
        await provider.get()


async def test_missing_token_file_names_the_variable(tmp_path: Path) -> None:
    provider = rrsa(tmp_path / "absent", FakeSts(FakeClock()), FakeClock())
    with pytest.raises(CredentialsError) as caught:
        await provider.get()
    assert "ALIBABA_CLOUD_OIDC_TOKEN_FILE" in str(caught.value)


async def test_chain_prefers_environment_access_key(
    monkeypatch: pytest.MonkeyPatch, token_file: Path
) -> None:
    sts = FakeSts(FakeClock())
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", "r")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "p")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    creds = await default_chain("https://sts.example.test", transport=httpx.MockTransport(sts)).get()
    assert creds.access_key_id == "env-id"
    assert sts.requests == []


async def test_chain_falls_back_to_rrsa(monkeypatch: pytest.MonkeyPatch, token_file: Path) -> None:
    sts = FakeSts(lambda: datetime.now(UTC))
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", "r")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "p")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_SESSION_NAME", "my-session")
    chain = default_chain("https://sts.example.test", transport=httpx.MockTransport(sts))
    creds = await chain.get()
    await chain.get()
    assert creds.access_key_id == "STS.id1"
    assert len(sts.requests) == 1
    assert sts.requests[0].url.params["RoleSessionName"] == "my-session"


async def test_empty_chain_error_names_every_option() -> None:
    with pytest.raises(CredentialsError) as caught:
        await default_chain("https://sts.example.test").get()
    text = str(caught.value)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE"):
        assert name in text
    assert not caught.value.retryable
