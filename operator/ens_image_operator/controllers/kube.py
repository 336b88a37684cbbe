"""The operator's own Kubernetes calls: status patches, fresh reads and Secret GETs (async, httpx).

kopf applies a handler's patch only when the handler returns; a crash-safe import has to write its
intent before calling ENS, so status goes straight to the API server from here.
"""

from __future__ import annotations

import base64
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ens_image_operator.api.kinds import Kind

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    """An unexpected answer of the Kubernetes API."""


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

    @classmethod
    def load(cls) -> Connection:
        """In-cluster configuration inside a pod, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
        import kubernetes.config
        from kubernetes.client import Configuration

        token_file = None
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
            token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        config = Configuration.get_default_copy()
        header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix(
            "authorization"
        )
        token = header.split(" ", 1)[-1] if header else None
        return cls(
            server=str(config.host).rstrip("/"),
            ca_path=config.ssl_ca_cert,
            verify=bool(config.verify_ssl),
            cert_path=config.cert_file,
            key_path=config.key_file,
            token=token,
            token_file=token_file,
        )


class KubeApi:
    """A small async client of the few Kubernetes endpoints the reconcilers need."""

    def __init__(self, connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.connection = connection
        verify: ssl.SSLContext | bool = connection.verify
        if connection.verify and connection.server.startswith("https"):
            context = ssl.create_default_context(cafile=connection.ca_path)
            if connection.cert_path:
                context.load_cert_chain(connection.cert_path, connection.key_path)
            verify = context
        # Waiting for a free connection is unbounded on purpose: when thousands of objects change at
        # once, passes queue for the API server instead of failing after an arbitrary pool timeout.
        self._http = httpx.AsyncClient(
            base_url=connection.server,
            verify=verify,
            timeout=httpx.Timeout(30.0, pool=None),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
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

    async def patch_status(self, kind: Kind, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch ``status``; a vanished object is not an error (it was deleted meanwhile)."""
        response = await self._http.patch(
            f"{self._path(kind, namespace, name)}/status",
            json={"status": dict(patch)},
            headers={**self._headers(), "Content-Type": MERGE_PATCH},
        )
        if response.status_code == 404:
            return
        if response.status_code >= 300:
            raise KubeError(f"patching {kind.kind} {namespace}/{name} status: HTTP {response.status_code}")

    async def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as stored now, or None if it does not exist."""
        response = await self._http.get(self._path(kind, namespace, name), headers=self._headers())
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise KubeError(f"reading {kind.kind} {namespace}/{name}: HTTP {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret (GET only), or None if it does not exist."""
        response = await self._http.get(
            f"/api/v1/namespaces/{namespace}/secrets/{name}", headers=self._headers()
        )
        if response.status_code == 404:
            return None
        if response.status_code == 403:
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
