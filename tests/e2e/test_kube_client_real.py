"""The operator's own Kubernetes client against a real kube-apiserver."""

from __future__ import annotations

import asyncio

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

    async def versions() -> list[str]:
        api = KubeApi(connection)
        try:
            return list(await asyncio.gather(*(api.version() for _ in range(20))))
        finally:
            await api.aclose()

    assert {answer.split(", ")[-1] for answer in asyncio.run(versions())} == {"HTTP/2"}
