"""ACS3-HMAC-SHA256 request signing (the V3 signature of Alibaba Cloud OpenAPI).

The pure pieces (``canonical_query`` … ``sign``) are exposed so tests can reproduce the published
vectors; :class:`Acs3Auth` applies them to outgoing ``httpx`` requests. ``rpc_signature`` is the
legacy HMAC-SHA1 signer, kept for parity checks only: the client itself always signs with V3.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import httpx

from ens_image_operator.ens.credentials import Credentials, CredentialsProvider

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

QueryInput = Mapping[str, str | None] | Iterable[tuple[str, str | None]]


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the SDK does it: only ``A-Za-z0-9-_.~`` stay literal."""
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(params: QueryInput) -> str:
    """Sorted ``key=value`` pairs, RFC 3986 encoded, None values dropped."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs = sorted((key, value) for key, value in items if value is not None)
    return "&".join(f"{percent_encode(key)}={percent_encode(value)}" for key, value in pairs)


def canonical_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[str, str]:
    """Return (CanonicalHeaders, SignedHeaders) for the headers given; all of them are signed."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name.lower(), []).append(value.strip())
    names = sorted(grouped)
    canonical = "".join(f"{name}:{','.join(sorted(grouped[name]))}\n" for name in names)
    return canonical, ";".join(names)


def _canonical_and_signed(
    method: str,
    path: str,
    query: QueryInput,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body_sha256: str,
) -> tuple[str, str]:
    headers_block, signed = canonical_headers(headers)
    lines = [method.upper(), path or "/", canonical_query(query), headers_block, signed, body_sha256]
    return "\n".join(lines), signed


def canonical_request(
    method: str,
    path: str,
    query: QueryInput,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body_sha256: str = EMPTY_SHA256,
) -> str:
    """METHOD, URI, CQS, CanonicalHeaders, SignedHeaders and the body hash, one per line."""
    return _canonical_and_signed(method, path, query, headers, body_sha256)[0]


def string_to_sign(canonical: str) -> str:
    """The algorithm name and the hex SHA-256 of the canonical request."""
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(access_key_secret: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the secret (no ``&`` suffix)."""
    return hmac.new(access_key_secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(access_key_id: str, signed_headers: str, signature: str) -> str:
    """The Authorization header value."""
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def rpc_signature(method: str, params: Mapping[str, str | None], access_key_secret: str) -> str:
    """Legacy RPC signature (HMAC-SHA1, SignatureVersion 1.0) of a parameter set."""
    to_sign = f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"
    digest = hmac.new(f"{access_key_secret}&".encode(), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_nonce() -> str:
    return secrets.token_hex(16)


class Acs3Auth(httpx.Auth):
    """Signs each request with fresh credentials from a provider (async clients only)."""

    def __init__(
        self,
        credentials: CredentialsProvider,
        *,
        clock: Callable[[], datetime] = _utc_now,
        nonce: Callable[[], str] = _new_nonce,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._nonce = nonce

    def apply(self, request: httpx.Request, credentials: Credentials) -> None:
        """Add the x-acs-* headers and the Authorization header to ``request``."""
        body = request.content
        added = {
            "x-acs-date": self._clock().astimezone(UTC).strftime(DATE_FORMAT),
            "x-acs-signature-nonce": self._nonce(),
            "x-acs-content-sha256": hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256,
        }
        if credentials.security_token:
            added["x-acs-accesskey-id"] = credentials.access_key_id
            added["x-acs-security-token"] = credentials.security_token
        request.headers.update(added)
        # Sign host and every x-acs-* header: Alibaba's documented minimum, and nothing that an
        # intermediary (user agents, proxies, accept-encoding) might rewrite.
        signed = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name == "host" or name.startswith("x-acs-")
        ]
        # The query as sent, decoded once ("+" is a space): the signature covers the values.
        query = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        canonical, signed_names = _canonical_and_signed(
            request.method, request.url.path, query, signed, added["x-acs-content-sha256"]
        )
        signature = sign(credentials.access_key_secret, string_to_sign(canonical))
        request.headers["Authorization"] = authorization(credentials.access_key_id, signed_names, signature)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self.apply(request, await self._credentials.get())
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("Acs3Auth fetches credentials asynchronously: use httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator
