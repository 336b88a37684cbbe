"""The operator's own Kubernetes calls: status patches, fresh reads and Secret GETs (async, httpx).

kopf applies a handler's patch only when the handler returns; a crash-safe import has to write its
intent before calling ENS, so status goes straight to the API server from here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ens_image_operator import __version__
from ens_image_operator.api.kinds import Kind

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
EVENT_SOURCE = "ens-image-operator"
# Answers worth another try of the same request: the API server was busy or briefly unreachable.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4
RETRY_BASE = 0.25  # seconds before the second attempt, doubling after
RETRY_AFTER_CAP = 30.0  # a Retry-After longer than this is cut short: the pass has a schedule to keep


class KubeError(Exception):
    """An unexpected answer of the Kubernetes API."""


class KubeConflict(KubeError):
    """HTTP 409: the object changed since the resourceVersion the write was conditional on."""


def answer(response: httpx.Response) -> str:
    """``HTTP <status>``; for a 403, with the API server's reason, which names the verb, resource,
    namespace and identity refused: what a missing RBAC rule is found by."""
    if response.status_code != 403:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    reason = body.get("message") if isinstance(body, dict) else None
    return f"HTTP 403 Forbidden: {reason}" if reason else "HTTP 403 Forbidden"


def retry_delay(response: httpx.Response | None, attempt: int) -> float:
    """How long to wait before the next attempt: the server's Retry-After on 429, else backoff."""
    if response is not None and response.status_code == 429:
        try:
            return min(RETRY_AFTER_CAP, max(0.0, float(response.headers.get("Retry-After", "1"))))
        except ValueError:
            return 1.0
    return float(RETRY_BASE * 2 ** (attempt - 1))


POOL = 8  # connections to the API server (one, multiplexed, over HTTP/2)


@dataclass
class Connection:
    """Where the API server is and how to authenticate, as the kubernetes library resolved it."""

    server: str
    ca_path: str | None = None
    verify: bool = True
    cert_path: str | None = None
    key_path: str | None = None
    token: str | None = None
    token_file: str | None = None  # in-cluster tokens rotate: read again periodically

    cert_data: bytes | None = None
    key_data: bytes | None = None
    ca_data: bytes | None = None

    @classmethod
    def from_login(cls, info: Any) -> Connection:
        """From the ConnectionInfo a kopf login produced."""
        from ens_image_operator.controllers.connection import SERVICE_ACCOUNT_TOKEN, decode_data

        token_file = str(SERVICE_ACCOUNT_TOKEN) if SERVICE_ACCOUNT_TOKEN.exists() else None
        return cls(
            server=str(info.server).rstrip("/"),
            ca_path=str(info.ca_path) if info.ca_path else None,
            ca_data=decode_data(info.ca_data),
            verify=not info.insecure,
            cert_path=str(info.certificate_path) if info.certificate_path else None,
            key_path=str(info.private_key_path) if info.private_key_path else None,
            cert_data=decode_data(info.certificate_data),
            key_data=decode_data(info.private_key_data),
            token=info.token,
            token_file=token_file,
        )


class KubeApi:
    """A small async client of the few Kubernetes endpoints the reconcilers need."""

    def __init__(self, connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.connection = connection
        verify: ssl.SSLContext | bool = connection.verify
        if connection.server.startswith("https"):
            context = ssl.create_default_context(
                cafile=connection.ca_path,
                cadata=connection.ca_data.decode() if connection.ca_data else None,
            )
            if not connection.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _load_client_certificate(context, connection)
            verify = context
        self._verify = verify
        # Waiting for a free connection is unbounded on purpose: when thousands of objects change at
        # once, passes queue for the API server instead of failing after an arbitrary pool timeout.
        # Over TLS the client speaks HTTP/2, as client-go does: every request shares one connection.
        # Over HTTP/1.1 (a plain-HTTP server: the sandbox, kubectl proxy) httpcore checks every
        # pooled connection at each request's start and end, so the pool is kept small: 8 answer
        # hundreds of requests a second, and 32 cost a burst of imports half its throughput
        # (docs/performance.md, P2 and P3).
        self._http = httpx.AsyncClient(
            base_url=connection.server,
            verify=verify,
            timeout=httpx.Timeout(30.0, pool=None),
            limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL),
            http2=connection.server.startswith("https"),
            # The API server names a write's field manager after it: managedFields then say that
            # the status belongs to this operator, not to "python-httpx".
            headers={"User-Agent": f"ens-image-operator/{__version__}"},
            transport=transport,
        )
        self._token = connection.token
        self._token_read_at = time.monotonic()

    def __repr__(self) -> str:
        return f"KubeApi(server={self.connection.server!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        if self.connection.token_file and time.monotonic() - self._token_read_at > 60:
            try:
                with open(self.connection.token_file, encoding="utf-8") as handle:
                    self._token = handle.read().strip()
                self._token_read_at = time.monotonic()
            except OSError:
                log.warning("could not re-read the service account token; keeping the previous one")
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    @staticmethod
    def _path(kind: Kind, namespace: str, name: str) -> str:
        return f"/apis/{kind.group}/{kind.version}/namespaces/{namespace}/{kind.plural}/{name}"

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, tried again after 429 (honouring Retry-After), 5xx or a lost connection.

        Every request sent through here is idempotent: a GET, or a merge patch whose second
        application changes nothing (a conditional one then fails its precondition, which its
        caller treats as a write lost to another writer).
        """
        extra: dict[str, str] = kwargs.pop("headers", {})
        for attempt in range(1, ATTEMPTS + 1):
            try:
                headers = {**self._headers(), **extra}
                response = await self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError:
                if attempt == ATTEMPTS:
                    raise
                await asyncio.sleep(retry_delay(None, attempt))
                continue
            if response.status_code not in RETRIED_STATUSES or attempt == ATTEMPTS:
                return response
            await asyncio.sleep(retry_delay(response, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def patch_status(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any] | None:
        """Merge-patch ``status``; return the object as stored, None if it vanished meanwhile.

        With ``resource_version`` the write happens only if the object is still at that version;
        otherwise :class:`KubeConflict` is raised.
        """
        document: dict[str, Any] = {"status": dict(patch)}
        if resource_version is not None:
            document["metadata"] = {"resourceVersion": resource_version}
        response = await self._send(
            "PATCH",
            f"{self._path(kind, namespace, name)}/status",
            json=document,
            headers={"Content-Type": MERGE_PATCH},
        )
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            raise KubeConflict(f"patching {kind.kind} {namespace}/{name} status: the object changed")
        if response.status_code >= 300:
            raise KubeError(f"patching {kind.kind} {namespace}/{name} status: {answer(response)}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            return None
        return body

    async def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as stored now, or None if it does not exist."""
        return await self.get_path(self._path(kind, namespace, name), f"{kind.kind} {namespace}/{name}")

    async def probe(self) -> httpx.Response:
        """One GET /version, not retried: what a start-up check needs to classify the answer.

        Over HTTP/1.1: kube-apiserver ends the HTTP/2 connection of a client whose credentials it
        rejects (its defence against HTTP/2 floods), and the client then reads a broken connection
        instead of the 401 that names the problem.
        """
        async with httpx.AsyncClient(base_url=self.connection.server, verify=self._verify) as http:
            return await http.get("/version", headers=self._headers(), timeout=10.0)

    async def version(self) -> str:
        """The API server's version and the protocol this client speaks to it: ``v1.34.4, HTTP/2``."""
        response = await self._send("GET", "/version")
        if response.status_code >= 300:
            raise KubeError(f"reading /version: {answer(response)}")
        return f"{response.json().get('gitVersion', 'unknown version')}, {response.http_version}"

    async def get_path(self, path: str, what: str = "") -> dict[str, Any] | None:
        """Any object by its API path (e.g. kopf's peering objects), or None if it does not exist."""
        response = await self._send("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise KubeError(f"reading {what or path}: {answer(response)}")
        body: dict[str, Any] = response.json()
        return body

    async def pages(
        self, kind: Kind, namespaces: Sequence[str] = (), limit: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every object of ``kind`` as stored now, in ``namespaces`` (all when empty), a page at a time."""
        prefix = f"/apis/{kind.group}/{kind.version}"
        paths = [f"{prefix}/namespaces/{ns}/{kind.plural}" for ns in namespaces]
        for path in paths or [f"{prefix}/{kind.plural}"]:
            token = ""
            while True:
                params = {"limit": str(limit), **({"continue": token} if token else {})}
                response = await self._send("GET", path, params=params)
                if response.status_code >= 300:
                    raise KubeError(f"listing {kind.plural}: {answer(response)}")
                page = response.json()
                yield page.get("items") or []
                token = (page.get("metadata") or {}).get("continue") or ""
                if not token:
                    break

    async def list(self, kind: Kind, namespaces: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every object of ``kind`` as stored now, in ``namespaces`` (all when empty)."""
        return [item async for page in self.pages(kind, namespaces) for item in page]

    async def post_event(self, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Post a core/v1 Event about ``involved``; failures are logged, never raised."""
        metadata = involved.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{metadata.get('name')}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": metadata.get("name"),
                "namespace": namespace,
                "uid": metadata.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": EVENT_SOURCE},
            "reportingComponent": EVENT_SOURCE,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            response = await self._http.post(
                f"/api/v1/namespaces/{namespace}/events", json=event, headers=self._headers()
            )
        except httpx.HTTPError as error:
            log.warning("could not post event %s: %s", reason, type(error).__name__)
            return
        if response.status_code >= 300:
            log.warning("could not post event %s: %s", reason, answer(response))

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret (GET only), or None if it does not exist."""
        response = await self._send("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if response.status_code == 404:
            return None
        if response.status_code == 403:
            log.warning("not allowed to read Secret %s/%s: %s", namespace, name, answer(response))
            raise PermissionError(f"not allowed to read Secret {namespace}/{name}")
        if response.status_code >= 300:
            raise KubeError(f"reading Secret {namespace}/{name}: HTTP {response.status_code}")
        body = response.json()
        data = body.get("data") or {}
        # A real API server folds stringData into data; a minimal local one may not.
        decoded = {str(key): str(value).strip() for key, value in (body.get("stringData") or {}).items()}
        for key, value in data.items():
            try:
                decoded[key] = base64.b64decode(value).decode("utf-8").strip()
            except (ValueError, UnicodeDecodeError):
                continue  # a key we cannot read is treated as absent
        return decoded


def _load_client_certificate(context: ssl.SSLContext, connection: Connection) -> None:
    if connection.cert_path:
        context.load_cert_chain(connection.cert_path, connection.key_path)
        return
    if connection.cert_data and connection.key_data:
        # ssl reads certificates only from files: write them briefly to a private folder.
        with tempfile.TemporaryDirectory() as folder:
            cert, key = Path(folder) / "tls.crt", Path(folder) / "tls.key"
            cert.write_bytes(connection.cert_data)
            key.write_bytes(connection.key_data)
            context.load_cert_chain(str(cert), str(key))
