"""The HTTP side: a ``kmock.KubernetesEmulator`` whose fallback is the local Kubernetes API.

kmock keeps what it is good at (an aiohttp handler, a request log, reactions for fault
injection: ``sandbox.emulator["patch", kmock.resource(...)] << 500`` wins over the API) while
``KubernetesApi`` supplies the API-server semantics kmock lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml

from ens_image_kit.sandbox.api import ApiRequest, KubernetesApi, Reply
from ens_image_kit.sandbox.registry import Json, read_crds
from ens_image_kit.sandbox.request_counts import REQUESTS_PATH, RequestCounts
from ens_image_kit.sandbox.write_faults import FAULTS_PATH, WriteFaults, inflict

logger = logging.getLogger(__name__)

# kmock scans its whole request log per request; a short log keeps every request O(1).
REQUEST_LOG_LIMIT = 64
MAX_REQUEST_BYTES = 3 * 1024 * 1024


@attrs.define(kw_only=True)
class SandboxEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with its object model replaced by ``KubernetesApi``."""

    api: KubernetesApi = attrs.field(factory=KubernetesApi)
    write_faults: WriteFaults = attrs.field(factory=WriteFaults)
    request_counts: RequestCounts = attrs.field(factory=RequestCounts)
    _seen: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        # No kmock fallbacks: anything user reactions do not catch goes to ``self.api``.
        pass

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw_request.read()
        if raw_request.path == FAULTS_PATH:
            return await self.write_faults.serve_admin(raw_request, body)
        if raw_request.path == REQUESTS_PATH:
            return await self.request_counts.serve_admin(raw_request, body)
        logged = self.request_counts.record(
            raw_request.method, raw_request.path, dict(raw_request.query), raw_request.headers, body
        )
        response = await self._serve(raw_request, body)
        if logged is not None:
            logged["code"] = response.status
        return response

    async def _serve(self, raw_request: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.StreamResponse:
        fault = self.write_faults.pick(raw_request.method, raw_request.path)
        if fault is not None and not fault.after:
            return await inflict(raw_request, fault)
        self._seen += 1
        try:
            request = await kmock.Request._parse(raw_request, id=self._seen)
        except ValueError:
            # kmock's path parser fails on some valid paths (``/api/v1/namespaces``): keep the
            # plain HTTP facts so that reactions can still match on method and path.
            request = kmock.Request(
                id=self._seen,
                method=raw_request.method,
                url=raw_request.url,
                params=dict(raw_request.query),
                headers=dict(raw_request.headers),
                body=body,
                raw_request=raw_request,
            )
        self._requests.append(request)
        try:
            response = await self._handle(request)
            return response if fault is None else await inflict(raw_request, fault)
        except Exception as error:
            logger.exception("internal error serving %s %s", raw_request.method, raw_request.path)
            if self._errors:
                self._errors[-1].append(error)
            message = f"internal error: {type(error).__name__}: {error}"
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "reason": "InternalError", "code": 500, "message": message}  # fmt: skip
            return aiohttp.web.json_response(status, status=500)

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        self._trim_logs()
        if self._payloads:
            with contextlib.suppress(NotImplementedError):  # no reaction matched: serve normally
                response: aiohttp.web.StreamResponse = await kmock.RawHandler._handle(self, request)
                return response
        raw: aiohttp.web.BaseRequest = request._raw_request
        api_request = ApiRequest(
            method=raw.method,
            path=raw.path,
            query=dict(raw.query),
            headers=dict(raw.headers),
            body=request.body,
        )
        reply = await self.api.handle(api_request)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %d", raw.method, raw.path_qs, reply.code)
        return await _respond(raw, reply)

    def _trim_logs(self) -> None:
        if len(self._requests) > REQUEST_LOG_LIMIT:
            del self._requests[:-REQUEST_LOG_LIMIT]
        for payload in self._payloads:
            if len(payload._requests) > REQUEST_LOG_LIMIT:
                del payload._requests[:-REQUEST_LOG_LIMIT]
        for errors in self._errors:
            del errors[:-REQUEST_LOG_LIMIT]


async def _respond(raw: aiohttp.web.BaseRequest, reply: Reply) -> aiohttp.web.StreamResponse:
    # RFC 7234 warn-text is a quoted string: inner quotes and backslashes are escaped.
    quoted = [w.replace("\\", "\\\\").replace('"', '\\"') for w in reply.warnings]
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in quoted)} if quoted else {}
    if reply.stream is None:
        body = json.dumps(reply.body, separators=(",", ":")).encode()
        return aiohttp.web.Response(
            body=body, status=reply.code, content_type=reply.content_type, headers=headers
        )
    response = aiohttp.web.StreamResponse(status=reply.code, headers=headers)
    response.content_type = reply.content_type
    await response.prepare(raw)
    try:
        async for chunk in reply.stream:
            if raw.transport is None or raw.transport.is_closing():
                break
            if chunk:
                await response.write(chunk)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client went away mid-stream
    finally:
        await reply.stream.aclose()  # type: ignore[attr-defined]
    return response


class _Server(aiohttp.web.Server):
    """aiohttp's low-level server with the API server's 3 MiB request limit (aiohttp's is 1 MiB)."""

    def _make_request(self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
        return aiohttp.web.BaseRequest(
            message, payload, protocol, writer, task, self._loop, client_max_size=MAX_REQUEST_BYTES
        )


def default_crd_paths() -> list[Path]:
    """The repository's ``crds/`` directory, next to the source tree or in the cwd."""
    for base in (Path(__file__).resolve().parents[4], Path.cwd()):
        candidate = base / "crds"
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return [candidate]
    return []


def kubeconfig(url: str) -> Json:
    """A kubeconfig pointing at ``url`` with a dummy token (the sandbox does no authentication)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": url}}],
        "users": [{"name": "sandbox", "user": {"token": "sandbox"}}],
        "contexts": [
            {"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox", "namespace": "default"}}
        ],
        "current-context": "sandbox",
        "preferences": {},
    }


class Sandbox:
    """A running local Kubernetes API: its URL, kubeconfig, and state for assertions."""

    def __init__(self, emulator: SandboxEmulator, url: str) -> None:
        self.emulator = emulator
        self.url = url

    @property
    def api(self) -> KubernetesApi:
        return self.emulator.api

    def write_kubeconfig(self, path: Path | str) -> Path:
        """Write a kubeconfig for kubectl, the kubernetes client and kopf; return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(kubeconfig(self.url), sort_keys=False), encoding="utf-8")
        return target

    def install_crds(self, paths: Sequence[Path | str]) -> int:
        """Serve the CRDs found in the given files or directories; return how many."""
        crds = read_crds(Path(p) for p in paths)
        for crd in crds:
            self.api.install_crd(crd)
        return len(crds)

    def objects(self, plural: str, namespace: str | None = None, group: str | None = None) -> list[Json]:
        """Copies of the stored objects of one resource type."""
        return self.api.objects(plural, namespace, group)

    def clear(self) -> None:
        """Forget every object (CRDs stay installed)."""
        self.api.clear()

    def remove_reactions(self) -> None:
        """Drop every kmock reaction added for fault injection: requests go to the API again."""
        self.emulator._payloads.clear()


@contextlib.asynccontextmanager
async def running_sandbox(
    crds: Sequence[Path | str] | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Sandbox]:
    """Serve the local Kubernetes API on ``host:port`` (0: a free port) while the block runs."""
    emulator = SandboxEmulator()
    crd_paths = [Path(p) for p in crds] if crds is not None else default_crd_paths()
    async with emulator:
        server = _Server(emulator, handler_cancellation=True)
        runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, host, port)
        await site.start()
        bound_port = port
        for address in runner.addresses:
            bound_port = int(address[1])
            break
        sandbox = Sandbox(emulator, f"http://{host}:{bound_port}")
        sandbox.install_crds(crd_paths)
        try:
            yield sandbox
        finally:
            emulator.api.closing = True
            await runner.cleanup()


class SandboxThread:
    """``running_sandbox`` in a background thread with its own loop, for synchronous code."""

    def __init__(
        self, crds: Sequence[Path | str] | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._args = (crds, host, port)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.sandbox: Sandbox | None = None
        self._thread = threading.Thread(target=self._run, name="k8s-sandbox", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with running_sandbox(*self._args) as sandbox:
                self.sandbox = sandbox
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:
            self._error = error
            self._ready.set()

    def __enter__(self) -> Sandbox:
        self._thread.start()
        self._ready.wait(30)
        if self.sandbox is None:
            raise RuntimeError(f"the sandbox did not start: {self._error!r}")
        return self.sandbox

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the sandbox's loop (its state is not thread-safe) and return the result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self._loop).result(10)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


async def _call(fn: Any, *args: Any) -> Any:
    return fn(*args)
