"""The operator's own Kubernetes client against a real kube-apiserver."""

from __future__ import annotations

import asyncio

import httpx
from tests.cluster.controlplane import ControlPlane

from ens_image_operator.controllers.kube import Connection, KubeApi


def test_the_operators_client_speaks_http2_to_a_tls_api_server(control_plane: ControlPlane) -> None:
    # One multiplexed connection, as client-go has: over HTTP/1.1 every request scanned a pool of
    # TLS connections, and a thousand status writes at once cost the operator twice the CPU.
    pki = control_plane.pki
    connection = Connection(
        server=control_plane.server,
        ca_path=str(pki / "ca.crt"),
        cert_path=str(pki / "admin.crt"),
        key_path=str(pki / "admin.key"),
    )

    async def versions() -> list[httpx.Response]:
        api = KubeApi(connection)
        try:
            return list(await asyncio.gather(*(api.probe() for _ in range(20))))
        finally:
            await api.aclose()

    answers = asyncio.run(versions())
    assert {(response.status_code, response.http_version) for response in answers} == {(200, "HTTP/2")}
