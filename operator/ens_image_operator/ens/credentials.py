"""Where ENS credentials come from: a Secret, the environment, or RRSA (AssumeRoleWithOIDC).

Secrets never appear in a repr, a log line or an exception text: :class:`Credentials` hides them and
the STS request (which carries the OIDC token in its query) is redacted from ``httpx`` logs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from ens_image_operator.ens.errors import CredentialsError, EnsError, Transient, classify

log = logging.getLogger(__name__)

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name, not a secret
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ENV_OIDC_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
ENV_OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"  # noqa: S105 - a variable name, not a secret
ENV_ROLE_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"

STS_VERSION = "2015-04-01"
DEFAULT_SESSION_NAME = "ens-image-operator"


@dataclass(frozen=True)
class Credentials:
    """An access key (possibly temporary). The secret and the token are left out of repr/str."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None


class CredentialsProvider(Protocol):
    """Anything that can hand out current credentials."""

    async def get(self) -> Credentials: ...


class StaticCredentials:
    """Fixed credentials, e.g. from the data of a Kubernetes Secret."""

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None) -> None:
        if not access_key_id or not access_key_secret:
            raise CredentialsError(
                "InvalidCredentials", "both an access key id and an access key secret are required"
            )
        self._credentials = Credentials(access_key_id, access_key_secret, security_token or None)

    async def get(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentials(access_key_id={self._credentials.access_key_id!r})"


class EnvironmentCredentials:
    """``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_ACCESS_KEY_SECRET`` / ``_SECURITY_TOKEN``, read at call time."""

    @staticmethod
    def available() -> bool:
        """Whether the environment holds an access key id and secret."""
        return bool(os.environ.get(ENV_ACCESS_KEY_ID) and os.environ.get(ENV_ACCESS_KEY_SECRET))

    async def get(self) -> Credentials:
        key_id = os.environ.get(ENV_ACCESS_KEY_ID, "")
        secret = os.environ.get(ENV_ACCESS_KEY_SECRET, "")
        if not key_id or not secret:
            raise CredentialsError(
                "InvalidCredentials", f"set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}"
            )
        return Credentials(key_id, secret, os.environ.get(ENV_SECURITY_TOKEN) or None)

    def __repr__(self) -> str:
        return "EnvironmentCredentials()"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RrsaCredentials:
    """Temporary credentials from STS AssumeRoleWithOIDC (RRSA in ACK), cached until near expiry."""

    def __init__(
        self,
        role_arn: str,
        oidc_provider_arn: str,
        oidc_token_file: str,
        sts_endpoint: str,
        *,
        session_name: str = DEFAULT_SESSION_NAME,
        duration_seconds: int = 3600,
        refresh_before: float = 900.0,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.role_arn = role_arn
        self.oidc_provider_arn = oidc_provider_arn
        self.oidc_token_file = oidc_token_file
        self.sts_endpoint = sts_endpoint.rstrip("/")
        self.session_name = session_name
        self.duration_seconds = max(duration_seconds, 900)  # STS minimum
        self.refresh_before = timedelta(seconds=refresh_before)
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self._cached: Credentials | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"RrsaCredentials(role_arn={self.role_arn!r}, sts_endpoint={self.sts_endpoint!r})"

    def _fresh(self, now: datetime) -> Credentials | None:
        cached = self._cached
        if cached is None or cached.expiration is None:
            return None
        return cached if now < cached.expiration - self.refresh_before else None

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def get(self) -> Credentials:
        fresh = self._fresh(self._clock())
        if fresh is not None:
            return fresh
        async with self._get_lock():  # one refresh at a time; the others reuse its result
            fresh = self._fresh(self._clock())
            if fresh is not None:
                return fresh
            try:
                self._cached = await self._assume_role()
            except EnsError as exc:
                cached = self._cached
                if cached is not None and cached.expiration and self._clock() < cached.expiration:
                    log.warning("RRSA refresh failed, still using current credentials: %s", exc)
                    return cached
                raise
            return self._cached

    def _read_token(self) -> str:
        try:
            token = Path(self.oidc_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialsError(
                "InvalidCredentials",
                f"cannot read the OIDC token file named by {ENV_OIDC_TOKEN_FILE} ({exc.strerror})",
            ) from None
        if not token:
            raise CredentialsError("InvalidCredentials", f"the file named by {ENV_OIDC_TOKEN_FILE} is empty")
        return token

    async def _assume_role(self) -> Credentials:
        params = {
            "Action": "AssumeRoleWithOIDC",
            "Format": "JSON",
            "Version": STS_VERSION,
            "DurationSeconds": str(self.duration_seconds),
            "RoleArn": self.role_arn,
            "OIDCProviderArn": self.oidc_provider_arn,
            "OIDCToken": self._read_token(),
            "RoleSessionName": self.session_name,
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as http:
            try:
                response = await http.get(f"{self.sts_endpoint}/", params=params)
            except httpx.TransportError as exc:
                # The exception text is left out: it might quote the request URL, token included.
                raise Transient("StsUnreachable", f"STS request failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise classify(response.status_code, response.content, response.headers)
        return _parse_sts(response)


def _parse_sts(response: httpx.Response) -> Credentials:
    try:
        data: Any = response.json()
        creds = data["Credentials"]
        expiration = datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return Credentials(
            creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"], expiration=expiration
        )
    except (ValueError, KeyError, TypeError):
        raise Transient("InvalidStsResponse", "STS answered without usable Credentials") from None


class DefaultCredentialsChain:
    """Environment access key first, then RRSA from its environment variables; else a clear error."""

    def __init__(self, sts_endpoint: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.sts_endpoint = sts_endpoint
        self._transport = transport
        self._rrsa: RrsaCredentials | None = None
        self._env = EnvironmentCredentials()

    def __repr__(self) -> str:
        return f"DefaultCredentialsChain(sts_endpoint={self.sts_endpoint!r})"

    def _rrsa_from_env(self) -> RrsaCredentials | None:
        role = os.environ.get(ENV_ROLE_ARN)
        provider = os.environ.get(ENV_OIDC_PROVIDER_ARN)
        token_file = os.environ.get(ENV_OIDC_TOKEN_FILE)
        if not (role and provider and token_file):
            return None
        session = os.environ.get(ENV_ROLE_SESSION_NAME) or DEFAULT_SESSION_NAME
        current = self._rrsa
        if current is None or (current.role_arn, current.oidc_provider_arn, current.oidc_token_file) != (
            role,
            provider,
            token_file,
        ):
            current = RrsaCredentials(
                role, provider, token_file, self.sts_endpoint, session_name=session, transport=self._transport
            )
            self._rrsa = current
        return current

    async def get(self) -> Credentials:
        if EnvironmentCredentials.available():
            return await self._env.get()
        rrsa = self._rrsa_from_env()
        if rrsa is not None:
            return await rrsa.get()
        raise CredentialsError(
            "InvalidCredentials",
            f"no ENS credentials found: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} "
            f"(optionally {ENV_SECURITY_TOKEN}), or {ENV_ROLE_ARN}, {ENV_OIDC_PROVIDER_ARN} "
            f"and {ENV_OIDC_TOKEN_FILE} for RRSA",
        )


def default_chain(
    sts_endpoint: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> CredentialsProvider:
    """The default provider: environment access key, then RRSA, then an error naming the variables."""
    return DefaultCredentialsChain(sts_endpoint, transport=transport)


_QUERY_SECRET = re.compile(r"(OIDCToken=)[^&\s\"']*")


class _RedactOidcToken(logging.Filter):
    """httpx logs every request URL at INFO; the STS URL carries the OIDC token in its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("OIDCToken=" in str(arg) for arg in record.args):
            record.args = tuple(
                _QUERY_SECRET.sub(r"\1***", str(arg)) if "OIDCToken=" in str(arg) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactOidcToken())
