"""A recording reverse proxy in front of a Kubernetes API, and the RBAC arithmetic to judge what it saw.

The operator is pointed at the proxy, so every request it makes is recorded (watch streams are
passed through chunk by chunk). Each request is then turned into the attributes the API server's
authorizer checks (verb, API group, resource/subresource, namespace), following the API server's
request-info rules, and compared with the rules of the chart's Roles and ClusterRoles.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

# Headers that describe one hop, not the message: aiohttp sets its own.
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Attributes:
    """What RBAC decides on: one resource request."""

    verb: str
    group: str
    resource: str  # "plural" or "plural/subresource"
    namespace: str | None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " (cluster-wide)"
        return f"{self.verb} {self.group or 'core'}/{self.resource}{where}"


class RecordingProxy:
    """Forward every request to ``upstream`` and remember it; runs its own loop in a thread."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Recorded] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._serve(),), daemon=True
        )

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        assert self._started.wait(10), "the recording proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:

            async def forward(request: web.Request) -> web.StreamResponse:
                self.requests.append(Recorded(request.method, request.path, tuple(request.query.items())))
                headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
                body = await request.read()
                async with session.request(
                    request.method, self.upstream + request.path_qs, headers=headers, data=body or None
                ) as upstream:
                    reply = web.StreamResponse(
                        status=upstream.status,
                        headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS},
                    )
                    await reply.prepare(request)
                    async for chunk in upstream.content.iter_any():
                        await reply.write(chunk)
                    await reply.write_eof()
                    return reply

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            self._started.set()
            await self._stop.wait()
            await runner.cleanup()


def attributes(request: Recorded) -> Attributes | None:
    """The authorizer's view of a request, or None for non-resource paths (discovery, version)."""
    parts = [part for part in request.path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] if len(rest) < 3 else f"{rest[0]}/{rest[2]}"
    named = len(rest) >= 2
    query = dict(request.query)
    verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
    if request.method == "GET":
        verb = "watch" if query.get("watch") in ("true", "1") else ("get" if named else "list")
    elif request.method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = verbs[request.method]
    return Attributes(verb, group, resource, namespace)


def allows(rules: Iterable[Mapping[str, Any]], wanted: Attributes) -> bool:
    return any(
        wanted.group in rule["apiGroups"]
        and wanted.resource in rule["resources"]
        and wanted.verb in rule["verbs"]
        for rule in rules
    )


def authorized(docs: list[dict[str, Any]], wanted: Attributes) -> bool:
    """Whether the rendered (Cluster)Roles, through their bindings, grant ``wanted``."""
    roles = {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]): doc for doc in docs}
    for binding in docs:
        if binding["kind"] == "ClusterRoleBinding":
            role = roles[("ClusterRole", None, binding["roleRef"]["name"])]
        elif binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] == wanted.namespace:
            kind = binding["roleRef"]["kind"]
            role = roles[
                (kind, None if kind == "ClusterRole" else wanted.namespace, binding["roleRef"]["name"])
            ]
        else:
            continue
        if allows(role["rules"], wanted):
            return True
    return False
