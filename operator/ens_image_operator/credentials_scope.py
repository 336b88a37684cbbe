"""Which credentials an object uses, and the ENS client and snapshots that go with them.

Order: ``spec.credentialsRef`` → the Secret ``default_secret_name`` in the object's namespace (if it
exists) → the operator's own chain (environment, RRSA). Secrets are read with GET only and cached
briefly, so an edited Secret is picked up without a restart. Objects whose credentials are equal share
one client and one snapshot.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import CredentialsProvider, StaticCredentials
from ens_image_operator.poller import ScopeSnapshots
from ens_image_operator.reconcile.failures import CredentialsProblem
from ens_image_operator.reconcile.ports import Cloud

SecretReader = Callable[[str, str], Awaitable[dict[str, str] | None]]
ClientFactory = Callable[[CredentialsProvider, bool], EnsClient]  # (credentials, retrying)

KEY_ID = "accessKeyId"
KEY_SECRET = "accessKeySecret"  # noqa: S105 - a key name, not a secret
KEY_TOKEN = "securityToken"  # noqa: S105 - a key name, not a secret
OPERATOR_SCOPE = "operator"


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


@dataclass
class _Scope:
    client: EnsClient
    once: EnsClient
    snapshots: ScopeSnapshots


class CredentialScopes:
    """Resolves an object's credentials to a :class:`Cloud`, reusing clients per distinct key."""

    def __init__(
        self,
        read_secret: SecretReader,
        make_client: ClientFactory,
        operator_credentials: CredentialsProvider,
        *,
        default_secret_name: str,
        snapshot_max_age: float,
        secret_ttl: float = 5.0,
        clock: Callable[[], float] = _loop_time,
    ) -> None:
        self._read_secret = read_secret
        self._make_client = make_client
        self._operator_credentials = operator_credentials
        self.default_secret_name = default_secret_name
        self.snapshot_max_age = snapshot_max_age
        self.secret_ttl = secret_ttl
        self._clock = clock
        self._secrets: dict[tuple[str, str], tuple[float, dict[str, str] | None]] = {}
        # One GET per Secret at a time: when the cache expires, every pass that needs the Secret
        # waits for the same read instead of each sending its own.
        self._reading: dict[tuple[str, str], asyncio.Future[dict[str, str] | None]] = {}
        self._scopes: dict[str, _Scope] = {}

    async def _secret(self, namespace: str, name: str) -> dict[str, str] | None:
        key = (namespace, name)
        cached = self._secrets.get(key)
        if cached is not None and self._clock() - cached[0] < self.secret_ttl:
            return cached[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key))
            self._reading[key] = reading
            reading.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(reading)

    async def _read(self, key: tuple[str, str]) -> dict[str, str] | None:
        started = self._clock()
        try:
            data = await self._read_secret(*key)
        except PermissionError as error:
            raise CredentialsProblem(f"cannot read Secret {key[0]}/{key[1]}: {error}") from None
        self._secrets[key] = (started, data)
        return data

    def _finished(self, key: tuple[str, str], done: asyncio.Future[dict[str, str] | None]) -> None:
        if self._reading.get(key) is done:
            del self._reading[key]
        if not done.cancelled():
            done.exception()  # mark retrieved: every waiter got it already

    def _scope(self, key: str, provider: CredentialsProvider) -> _Scope:
        scope = self._scopes.get(key)
        if scope is None:
            client = self._make_client(provider, True)
            snapshots = ScopeSnapshots(client, max_age=self.snapshot_max_age, clock=self._clock)
            scope = _Scope(client, self._make_client(provider, False), snapshots)
            self._scopes[key] = scope
        return scope

    async def _resolve(
        self, namespace: str, credentials_ref: str | None
    ) -> tuple[str, CredentialsProvider, str]:
        """(scope key, credentials, where they came from) of an object."""
        name = credentials_ref or self.default_secret_name
        data = await self._secret(namespace, name)
        if data is None:
            if credentials_ref:
                raise CredentialsProblem(
                    f"Secret {namespace}/{name} named in spec.credentialsRef does not exist"
                )
            return OPERATOR_SCOPE, self._operator_credentials, "the operator's own credentials"
        key_id, secret, token = data.get(KEY_ID), data.get(KEY_SECRET), data.get(KEY_TOKEN) or None
        if not key_id or not secret:
            raise CredentialsProblem(f"Secret {namespace}/{name} needs the keys {KEY_ID} and {KEY_SECRET}")
        # Scopes are keyed by a digest of the whole key, so a changed Secret gets a fresh client and
        # equal keys in different namespaces share one snapshot.
        digest = hashlib.sha256("\0".join((key_id, secret, token or "")).encode()).hexdigest()
        return digest, StaticCredentials(key_id, secret, token), f"Secret {namespace}/{name}"

    async def scope_key(self, namespace: str, credentials_ref: str | None) -> str:
        """Which credentials an object acts with: equal keys for equal credentials, no ENS call."""
        return (await self._resolve(namespace, credentials_ref))[0]

    async def cloud_for(self, namespace: str, credentials_ref: str | None) -> Cloud:
        """The client, snapshots and a description of the credentials of an object."""
        key, provider, source = await self._resolve(namespace, credentials_ref)
        scope = self._scope(key, provider)
        return Cloud(scope.client, scope.snapshots, source, scope.once)

    def scopes(self) -> list[ScopeSnapshots]:
        """Every snapshot in use (for metrics)."""
        return [scope.snapshots for scope in self._scopes.values()]

    async def aclose(self) -> None:
        """Stop every refresh, then close every client."""
        for scope in self._scopes.values():
            await scope.snapshots.aclose()
            await scope.client.aclose()
            await scope.once.aclose()
        self._scopes.clear()
