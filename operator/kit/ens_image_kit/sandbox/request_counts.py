"""Who asked what: every request the local Kubernetes API serves, counted by client, verb and resource.

Read and reset over HTTP at ``/_sandbox/requests`` (a path no API server serves), so a benchmark or
a test can ask a sandbox running in another process what an operator cost it:

    GET    /_sandbox/requests             the counts; with ``?since=SEQ`` also the log after SEQ
    POST   /_sandbox/requests             ``{"log": true, "bodies": true, "limit": 10000}``: start
                                          a log of single requests (cleared), optionally with the
                                          JSON bodies of writes; ``{"log": false}`` stops it
    DELETE /_sandbox/requests             forget the counts and the log

A count is keyed by the client (its ``User-Agent``), whether it sent credentials (an
``Authorization`` header: the operator and kopf send the kubeconfig's token, plain HTTP clients
such as the benchmarks send none), the verb as the API server's audit log names it (get, list,
watch, create, update, patch, delete, deletecollection) and the resource (``plural.group`` plus
``/subresource``; ``discovery``, ``version``, ``openapi``, ``health`` for the rest). Counting is
always on and costs a dictionary update per request; the log of single requests is off until asked
for and bounded. Bodies of Secrets are never logged.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import aiohttp.web

from ens_image_kit.sandbox.api import split_namespace

REQUESTS_PATH = "/_sandbox/requests"
DEFAULT_LOG_LIMIT = 10_000
MAX_LOGGED_BODY = 64 * 1024
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class Classified:
    """What a request asked for, in the API server's terms."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None


def classify(method: str, path: str, query: dict[str, str]) -> Classified:
    """The verb and resource of a request, from its method, path and query alone."""
    method = method.upper()
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] in ("healthz", "readyz", "livez"):
        return Classified(method.lower(), "health")
    if parts[0] == "version":
        return Classified("get", "version")
    if parts[0] == "openapi":
        return Classified("get", "openapi")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = (parts[1] if len(parts) > 1 else ""), parts[3:]
    else:
        return Classified(method.lower(), "other")
    if not rest:
        return Classified("get", "discovery")
    namespace, rest = split_namespace(rest)  # the API's own rule
    resource = f"{rest[0]}.{group}" if group else rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource += "/" + "/".join(rest[2:])
    watching = query.get("watch") in ("true", "1")
    if name is None:
        verb = {"GET": "watch" if watching else "list", "POST": "create", "DELETE": "deletecollection"}
    else:
        verb = {"GET": "watch" if watching else "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    return Classified(verb.get(method, method.lower()), resource, namespace, name)


class RequestCounts:
    """The counts (always) and the log of single requests (when asked for) of one sandbox."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, bool, str, str]] = Counter()
        self.total = 0
        self.log: deque[dict[str, Any]] | None = None
        self.bodies = False

    def record(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> dict[str, Any] | None:
        """Count one request; its log entry (the caller fills in ``code``) when logging."""
        what = classify(method, path, query)
        client = str(headers.get("User-Agent") or "")
        authenticated = bool(headers.get("Authorization"))
        self.counts[(client, authenticated, what.verb, what.resource)] += 1
        self.total += 1
        if self.log is None:
            return None
        entry: dict[str, Any] = {
            "seq": self.total,
            "monotonic": time.monotonic(),
            "client": client,
            "authenticated": authenticated,
            "method": method.upper(),
            "verb": what.verb,
            "resource": what.resource,
            "namespace": what.namespace,
            "name": what.name,
            "path": path,
            "query": dict(query),
            "code": None,
        }
        if self.bodies and what.verb in WRITES and not what.resource.startswith("secrets"):
            entry["body"] = _json_or_none(body)
        self.log.append(entry)
        return entry

    def clear(self) -> None:
        self.counts.clear()
        if self.log is not None:
            self.log.clear()

    def to_json(self, since: int | None = None) -> dict[str, Any]:
        counts = [
            {"client": client, "authenticated": auth, "verb": verb, "resource": resource, "count": count}
            for (client, auth, verb, resource), count in sorted(self.counts.items())
        ]
        document: dict[str, Any] = {"total": self.total, "logging": self.log is not None, "counts": counts}
        if since is not None:
            document["log"] = [entry for entry in self.log or () if entry["seq"] > since]
        return document

    async def serve_admin(self, request: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.Response:
        """GET the counts (and log), POST to start or stop the log, DELETE to reset."""
        if request.method == "POST":
            try:
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("a JSON object is expected")
                limit = int(data.get("limit", DEFAULT_LOG_LIMIT))
                if limit < 1:
                    raise ValueError("limit must be positive")
            except (TypeError, ValueError) as error:
                return aiohttp.web.json_response({"error": f"bad request log settings: {error}"}, status=400)
            self.log = deque(maxlen=limit) if data.get("log", True) else None
            self.bodies = bool(data.get("bodies", False))
        elif request.method == "DELETE":
            self.clear()
        since = request.query.get("since")
        try:
            after = int(since) if since is not None else None
        except ValueError:
            return aiohttp.web.json_response({"error": "since must be an integer"}, status=400)
        return aiohttp.web.json_response(self.to_json(after))


def _json_or_none(body: bytes) -> Any:
    if not body or len(body) > MAX_LOGGED_BODY:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
