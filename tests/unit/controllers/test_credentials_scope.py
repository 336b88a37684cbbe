"""Which credentials an object uses: its reference, the namespace default Secret, else the operator's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ens_image_operator.credentials_scope import CredentialScopes
from ens_image_operator.ens.credentials import Credentials, CredentialsProvider, StaticCredentials
from ens_image_operator.reconcile.failures import CredentialsProblem

GOOD = {"accessKeyId": "AK1", "accessKeySecret": "sekrit"}


class FakeClient:
    def __init__(self, credentials: CredentialsProvider, retrying: bool) -> None:
        self.credentials = credentials
        self.retrying = retrying
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True

    def iter_self_images(self) -> Any:
        raise NotImplementedError

    def iter_export_image_info(self) -> Any:
        raise NotImplementedError


class Secrets:
    def __init__(self, data: dict[tuple[str, str], dict[str, str]]) -> None:
        self.data = data
        self.reads = 0

    async def read(self, namespace: str, name: str) -> dict[str, str] | None:
        self.reads += 1
        return self.data.get((namespace, name))


def _scopes(secrets: Secrets, clock: list[float] | None = None) -> CredentialScopes:
    now = clock if clock is not None else [0.0]
    return CredentialScopes(
        secrets.read,
        FakeClient,  # type: ignore[arg-type]
        StaticCredentials("operator-id", "operator-secret"),
        default_secret_name="ens-credentials",
        snapshot_max_age=1.0,
        secret_ttl=5.0,
        clock=lambda: now[0],
    )


async def _key_of(cloud: Any) -> Credentials:
    credentials: Credentials = await cloud.client.credentials.get()
    return credentials


async def test_a_referenced_secret_is_used() -> None:
    cloud = await _scopes(Secrets({("ns", "team"): GOOD})).cloud_for("ns", "team")
    assert (await _key_of(cloud)).access_key_id == "AK1" and cloud.source == "Secret ns/team"


async def test_a_missing_referenced_secret_is_a_problem_naming_it() -> None:
    with pytest.raises(CredentialsProblem, match="Secret ns/team"):
        await _scopes(Secrets({})).cloud_for("ns", "team")


async def test_a_secret_without_both_keys_is_a_problem_naming_it() -> None:
    with pytest.raises(CredentialsProblem, match="Secret ns/team needs the keys"):
        await _scopes(Secrets({("ns", "team"): {"accessKeyId": "AK1"}})).cloud_for("ns", "team")


async def test_the_namespace_default_secret_is_used_without_a_reference() -> None:
    cloud = await _scopes(Secrets({("ns", "ens-credentials"): GOOD})).cloud_for("ns", None)
    assert cloud.source == "Secret ns/ens-credentials"


async def test_the_operator_credentials_are_the_last_resort() -> None:
    cloud = await _scopes(Secrets({})).cloud_for("ns", None)
    assert (await _key_of(cloud)).access_key_id == "operator-id"


async def test_secrets_are_cached_briefly_then_read_again() -> None:
    clock = [0.0]
    secrets = Secrets({("ns", "team"): GOOD})
    scopes = _scopes(secrets, clock)
    await scopes.cloud_for("ns", "team")
    await scopes.cloud_for("ns", "team")
    assert secrets.reads == 1
    clock[0] = 6.0
    await scopes.cloud_for("ns", "team")
    assert secrets.reads == 2


async def test_a_changed_secret_gets_a_new_client_without_restart() -> None:
    clock = [0.0]
    secrets = Secrets({("ns", "team"): GOOD})
    scopes = _scopes(secrets, clock)
    first = await scopes.cloud_for("ns", "team")
    secrets.data[("ns", "team")] = {"accessKeyId": "AK2", "accessKeySecret": "other"}
    clock[0] = 6.0
    second = await scopes.cloud_for("ns", "team")
    assert second.client is not first.client and (await _key_of(second)).access_key_id == "AK2"


async def test_equal_keys_in_two_namespaces_share_one_snapshot() -> None:
    scopes = _scopes(Secrets({("a", "ens-credentials"): GOOD, ("b", "ens-credentials"): GOOD}))
    assert (await scopes.cloud_for("a", None)).snapshots is (await scopes.cloud_for("b", None)).snapshots


async def test_non_idempotent_calls_get_a_client_that_does_not_retry() -> None:
    cloud = await _scopes(Secrets({})).cloud_for("ns", None)
    assert cloud.client.retrying and not cloud.single_shot.retrying  # type: ignore[attr-defined]


async def test_the_secret_value_never_appears_in_a_problem_message() -> None:
    with pytest.raises(CredentialsProblem) as caught:
        await _scopes(Secrets({("ns", "team"): {"accessKeySecret": "sekrit"}})).cloud_for("ns", "team")
    assert "sekrit" not in str(caught.value)


class YieldingSecrets(Secrets):
    """A read that lets other tasks run while it waits for the API server."""

    async def read(self, namespace: str, name: str) -> dict[str, str] | None:
        self.reads += 1
        await asyncio.sleep(0)
        return self.data.get((namespace, name))


async def test_concurrent_passes_share_one_read_of_an_expired_secret() -> None:
    secrets = YieldingSecrets({("team", "ens-credentials"): GOOD})
    scopes = _scopes(secrets)
    await asyncio.gather(*(scopes.cloud_for("team", None) for _ in range(20)))
    assert secrets.reads == 1
