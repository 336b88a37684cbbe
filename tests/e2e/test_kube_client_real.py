"""The operator's own Kubernetes client against a real kube-apiserver."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.cluster.controlplane import ControlPlane

from ens_image_operator.controllers.kube import Connection, KubeApi


def _admin(plane: ControlPlane) -> Connection:
    """The operator's client connection, logged in as the control plane's admin."""
    pki = plane.pki
    return Connection(
        server=plane.server,
        ca_path=str(pki / "ca.crt"),
        cert_path=str(pki / "admin.crt"),
        key_path=str(pki / "admin.key"),
    )


def test_the_operators_client_speaks_http2_to_a_tls_api_server(control_plane: ControlPlane) -> None:
    # One multiplexed connection, as client-go has: over HTTP/1.1 every request scanned a pool of
    # TLS connections, and a thousand status writes at once cost the operator twice the CPU.
    connection = _admin(control_plane)

    async def versions() -> list[str]:
        api = KubeApi(connection)
        try:
            return list(await asyncio.gather(*(api.version() for _ in range(20))))
        finally:
            await api.aclose()

    assert {answer.split(", ")[-1] for answer in asyncio.run(versions())} == {"HTTP/2"}


def test_what_the_operators_client_writes_is_managed_by_ens_image_operator(
    control_plane: ControlPlane,
) -> None:
    # The API server names the field manager of a write after the client's User-Agent; kubectl's
    # managedFields said "python-httpx" owned the operator's status and events.
    connection = _admin(control_plane)
    involved = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "uid": "u-1"}}

    async def post_and_read() -> list[dict[str, Any]]:
        api = KubeApi(connection)
        try:
            await api.post_event(involved, "Normal", "FieldManagerTest", "who wrote this")
            events = await api.get_path("/api/v1/namespaces/default/events")
        finally:
            await api.aclose()
        assert events is not None
        return [e for e in events["items"] if e.get("reason") == "FieldManagerTest"]

    (event,) = asyncio.run(post_and_read())
    assert [entry["manager"] for entry in event["metadata"]["managedFields"]] == ["ens-image-operator"]
