"""Before the intent of a create: no read of what the watch delivered, the claim being conditional."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ens_image_operator.api.kinds import ENS_IMAGE
from ens_image_operator.controllers.kube import Connection, KubeApi
from ens_image_operator.controllers.runtime import KubeHandle, WrittenStatuses

BODY = {"metadata": {"namespace": "ns", "name": "web", "uid": "u-1", "resourceVersion": "7"}, "status": {}}


class Server:
    """A Kubernetes API that records the requests and answers GETs at version 9."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content) if request.content else None
        self.requests.append((request.method, sent))
        version = "9" if request.method == "GET" else "10"
        return httpx.Response(
            200, json={**BODY, "metadata": {**BODY["metadata"], "resourceVersion": version}}
        )

    def api(self) -> KubeApi:
        return KubeApi(Connection(server="http://k8s"), transport=httpx.MockTransport(self))


async def test_a_claim_from_the_body_the_watch_delivered_reads_nothing_first() -> None:
    server, written = Server(), WrittenStatuses()
    written.seen(BODY)
    handle = KubeHandle(server.api(), ENS_IMAGE, BODY, written, current=True)
    assert await handle.fresh_status(before_claim=True) == {}
    await handle.claim_status({"importStartedAt": "2026-01-01T12:00:00Z"})
    assert [method for method, _ in server.requests] == ["PATCH"]
    assert server.requests[0][1]["metadata"] == {"resourceVersion": "7"}  # the delivered version


async def test_after_a_write_the_watch_has_not_delivered_the_object_is_read() -> None:
    server, written = Server(), WrittenStatuses()
    written.seen(BODY)
    written.record("u-1", {**BODY, "metadata": {**BODY["metadata"], "resourceVersion": "8"}})
    handle = KubeHandle(server.api(), ENS_IMAGE, BODY, written, current=True)
    await handle.fresh_status(before_claim=True)
    await handle.claim_status({"importStartedAt": "2026-01-01T12:00:00Z"})
    assert [method for method, _ in server.requests] == ["GET", "PATCH"]
    assert server.requests[1][1]["metadata"] == {"resourceVersion": "9"}


async def test_a_body_older_than_what_the_watch_delivered_is_read_again() -> None:
    server, written = Server(), WrittenStatuses()
    written.seen({**BODY, "metadata": {**BODY["metadata"], "resourceVersion": "8"}})
    await KubeHandle(server.api(), ENS_IMAGE, BODY, written, current=True).fresh_status(before_claim=True)
    assert [method for method, _ in server.requests] == ["GET"]


async def test_a_scheduler_body_is_read_again_it_may_predate_the_finalizer_patch() -> None:
    # The scheduler indexes a new EnsImage before kopf's finalizer patch is delivered: an intent
    # conditional on that version would only meet a conflict.
    server, written = Server(), WrittenStatuses()
    written.seen(BODY)
    await KubeHandle(server.api(), ENS_IMAGE, BODY, written).fresh_status(before_claim=True)
    assert [method for method, _ in server.requests] == ["GET"]


async def test_other_fresh_reads_still_read(  # a deletion decides from the status as stored now
) -> None:
    server, written = Server(), WrittenStatuses()
    written.seen(BODY)
    await KubeHandle(server.api(), ENS_IMAGE, BODY, written, current=True).fresh_status()
    assert [method for method, _ in server.requests] == ["GET"]
