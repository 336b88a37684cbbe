"""Injected faults on chosen Kubernetes writes: 404, 409, 429 with Retry-After, 500, a dropped connection.

Rules are set over HTTP at ``/_sandbox/faults`` (a path no API server serves), so a test can steer
a sandbox running in another process:

    POST   /_sandbox/faults   one rule or a list (appended)    GET  the rules and their hits
    DELETE /_sandbox/faults   remove every rule

A rule: ``{"method": "PATCH", "path": "/status$", "code": 409, "rate": 1, "times": 1}``. ``method``
is a verb or ``"*"`` for any write (POST, PUT, PATCH, DELETE); ``path`` a regular expression searched
in the request path; ``code`` one of 404, 409, 429, 500 (``retryAfter`` seconds with 429);
``drop: true`` closes the connection without an answer; ``after: true`` applies the write first and
then inflicts the fault on its answer (the write took effect, the client cannot know); ``times``
bounds how many requests the rule hits. The first matching rule that fires wins.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web

FAULTS_PATH = "/_sandbox/faults"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REASONS = {404: "NotFound", 409: "Conflict", 429: "TooManyRequests", 500: "InternalError"}


@dataclass
class WriteFault:
    """One rule: which writes it hits, how often, and what they get instead of the API's answer."""

    method: str = "*"
    path: str = ""
    code: int | None = 500
    retry_after: int | None = None
    drop: bool = False
    after: bool = False
    rate: float = 1.0
    times: int | None = None
    hits: int = field(default=0, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> WriteFault:
        """Build from the admin JSON; ValueError on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("a rule is a JSON object")
        code = data.get("code", 500)
        if code is not None and int(code) not in REASONS:
            raise ValueError(f"code must be one of {sorted(REASONS)}")
        rate = float(data.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        re.compile(str(data.get("path", "")))
        times = data.get("times")
        retry_after = data.get("retryAfter")
        return cls(
            method=str(data.get("method", "*")).upper(),
            path=str(data.get("path", "")),
            code=None if code is None else int(code),
            retry_after=None if retry_after is None else int(retry_after),
            drop=bool(data.get("drop", False)),
            after=bool(data.get("after", False)),
            rate=rate,
            times=None if times is None else int(times),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "code": self.code,
            "retryAfter": self.retry_after,
            "drop": self.drop,
            "after": self.after,
            "rate": self.rate,
            "times": self.times,
            "hits": self.hits,
        }

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if method not in WRITES or self.method not in ("*", method):
            return False
        return re.search(self.path, path) is not None


class WriteFaults:
    """The rule list of one sandbox, with its own dice."""

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[WriteFault] = []
        self._random = random.Random(seed)

    def pick(self, method: str, path: str) -> WriteFault | None:
        """The rule this request meets, if one fires (its hit is counted)."""
        for rule in self.rules:
            if rule.matches(method, path) and self._random.random() < rule.rate:
                rule.hits += 1
                return rule
        return None

    async def serve_admin(self, request: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.Response:
        """GET, POST (append) or DELETE the rules."""
        if request.method == "POST":
            try:
                data = json.loads(body or b"null")
                items = data if isinstance(data, list) else [data]
                self.rules.extend(WriteFault.from_json(item) for item in items)
                if isinstance(data, dict) and "seed" in data:
                    self._random.seed(data["seed"])
            except (TypeError, ValueError, re.error) as error:
                return aiohttp.web.json_response({"error": f"bad fault rule: {error}"}, status=400)
        elif request.method == "DELETE":
            self.rules.clear()
        return aiohttp.web.json_response([rule.to_json() for rule in self.rules])


async def inflict(request: aiohttp.web.BaseRequest, rule: WriteFault) -> aiohttp.web.StreamResponse:
    """The answer a faulted write gets: an error Status, or no answer at all."""
    if rule.drop or rule.code is None:
        if request.transport is not None:
            request.transport.close()
        return aiohttp.web.Response(status=500)  # never reaches the client: the connection is gone
    reason = REASONS[rule.code]
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "reason": reason, "code": rule.code, "message": f"injected fault: {reason}"}  # fmt: skip
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
    return aiohttp.web.json_response(status, status=rule.code, headers=headers)
