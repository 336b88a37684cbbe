"""The aiohttp transport sends exactly what httpx built and reports failures the way httpx would."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from ens_image_operator.ens.transport import AiohttpTransport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    def __init__(self, url: str, seen: list[web.Request], bodies: list[bytes]) -> None:
        self.url, self.seen, self.bodies = url, seen, bodies


async def serve(handler: Handler) -> AsyncIterator[Server]:
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def recording(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        bodies.append(await request.read())
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recording)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Server(f"http://127.0.0.1:{port}", seen, bodies)
    finally:
        await runner.cleanup()


async def answer_json(request: web.Request) -> web.StreamResponse:
    return web.json_response({"RequestId": "r-1"}, headers={"x-acs-request-id": "r-1"})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async for running in serve(answer_json):
        yield running


async def test_query_is_sent_exactly_as_encoded(server: Server) -> None:
    url = f"{server.url}/?ImageName=my%20image%2A~&OSSObject=dir%2Fa.qcow2"
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        await client.post(url)
    assert server.seen[0].raw_path == "/?ImageName=my%20image%2A~&OSSObject=dir%2Fa.qcow2"


async def test_headers_and_empty_body_arrive(server: Server) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        await client.post(f"{server.url}/", headers={"x-acs-action": "DescribeSelfImages"})
    request = server.seen[0]
    assert request.method == "POST"
    assert request.headers["x-acs-action"] == "DescribeSelfImages"
    assert request.headers["host"] == server.url.removeprefix("http://")
    assert server.bodies[0] == b""


async def test_response_status_headers_and_json_come_back(server: Server) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(f"{server.url}/")
    assert response.status_code == 200
    assert response.headers["x-acs-request-id"] == "r-1"
    assert response.json() == {"RequestId": "r-1"}


async def test_compressed_answers_are_decoded_once() -> None:
    async def gzipped(request: web.Request) -> web.StreamResponse:
        body = gzip.compress(b'{"ok": true}')
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    async for running in serve(gzipped):
        async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
            response = await client.get(f"{running.url}/")
    assert response.json() == {"ok": True}


async def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/")


async def test_a_connection_dropped_after_sending_is_a_protocol_error() -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        raise asyncio.CancelledError

    async for running in serve(drop):
        async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"{running.url}/")


async def test_a_slow_answer_is_a_read_timeout() -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response()

    async for running in serve(stall):
        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(f"{running.url}/")
        release.set()


async def test_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        await client.post("http://ens.example.test/?Action=X")
    assert server.seen[0].url.host == "ens.example.test"


async def test_no_proxy_hosts_are_reached_directly(monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(f"{server.url}/")
    assert response.status_code == 200


async def test_closing_releases_the_session(server: Server) -> None:
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        await client.post(f"{server.url}/")
    # a closed transport opens a fresh session when used again
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.post(f"{server.url}/")).status_code == 200
