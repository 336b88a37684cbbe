"""An ``httpx`` transport that sends requests with aiohttp's client.

httpx keeps the request model, the auth flow (signing) and ``MockTransport`` for tests; aiohttp moves
the bytes. Measured against the emulator, httpx's own transport spends about 0.6 ms of CPU per call and
aiohttp about 0.13 ms. Failures are mapped onto httpx's exceptions with care for one distinction the
client relies on: a connect failure means nothing was sent, anything later means it may have been.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import certifi
import httpx
from yarl import URL


@contextmanager
def _mapped_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:  # includes DNS, TLS and proxy connect failures
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(str(exc) or type(exc).__name__, request=request) from exc


def _client_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
    connect, pool = timeouts.get("connect"), timeouts.get("pool")
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None and pool is None else (connect or 0.0) + (pool or 0.0),
        sock_connect=connect,
        sock_read=timeouts.get("read"),
    )


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One pooled ``aiohttp.ClientSession``, created on first use in the running event loop."""

    def __init__(self, *, max_connections: int = 100, verify: bool = True) -> None:
        self._max_connections = max_connections
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            tls: ssl.SSLContext | bool = (
                ssl.create_default_context(cafile=certifi.where()) if self._verify else False
            )
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=tls),
                auto_decompress=False,  # httpx decodes the body from its Content-Encoding
                # Proxies are looked up once per host below: aiohttp's trust_env would hop to a
                # thread twice per request to read the environment and ~/.netrc.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._loop = loop
        return self._session

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        key = (scheme, host)
        if key not in self._proxies:
            # The standard library reads HTTP(S)_PROXY and NO_PROXY as httpx and aiohttp do.
            proxies = urllib.request.getproxies()
            proxy = proxies.get(scheme)
            self._proxies[key] = None if proxy is None or urllib.request.proxy_bypass(host) else proxy
        return self._proxies[key]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._get_session()
        proxy = self._proxy_for(request.url.scheme, request.url.host)
        body = await request.aread()
        with _mapped_errors(request):
            async with session.request(
                request.method,
                URL(str(request.url), encoded=True),  # send the query exactly as it was signed
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                proxy=proxy,
                timeout=_client_timeout(request),
            ) as response:
                content = await response.read()
                extensions: dict[str, Any] = {
                    "http_version": f"HTTP/{response.version.major}.{response.version.minor}".encode()
                    if response.version
                    else b"HTTP/1.1",
                    "reason_phrase": (response.reason or "").encode(),
                }
                return httpx.Response(
                    response.status,
                    headers=[
                        (name.decode("latin-1"), value.decode("latin-1"))
                        for name, value in response.raw_headers
                    ],
                    stream=httpx.ByteStream(content),
                    extensions=extensions,
                    request=request,
                )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        # A session can only be closed from the loop it was made in; another loop's is dropped.
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
