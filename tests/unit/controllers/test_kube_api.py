"""The operator's own Kubernetes calls: status merge-patches, Secret GETs, events."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from ens_image_operator.api.kinds import ENS_IMAGE
from ens_image_operator.controllers.kube import Connection, KubeApi


def _api(handler: httpx.MockTransport) -> KubeApi:
    return KubeApi(Connection(server="http://k8s", token="t0ken"), transport=handler)


async def test_status_is_merge_patched_on_the_status_subresource() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    await _api(httpx.MockTransport(handle)).patch_status(ENS_IMAGE, "ns", "web", {"imageId": "m-1"})
    request = seen[0]
    assert request.method == "PATCH"
    assert request.url.path == "/apis/ens.image-operator.io/v1alpha1/namespaces/ns/ensimages/web/status"
    assert request.headers["content-type"] == "application/merge-patch+json"
    assert json.loads(request.content) == {"status": {"imageId": "m-1"}}
    assert request.headers["authorization"] == "Bearer t0ken"


async def test_a_status_patch_of_a_vanished_object_is_not_an_error() -> None:
    api = _api(httpx.MockTransport(lambda request: httpx.Response(404, json={})))
    await api.patch_status(ENS_IMAGE, "ns", "gone", {"imageId": "m-1"})


async def test_a_secret_is_read_with_get_and_decoded() -> None:
    data = {
        "accessKeyId": base64.b64encode(b"AK").decode(),
        "accessKeySecret": base64.b64encode(b"s\n").decode(),
    }

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.url.path == "/api/v1/namespaces/ns/secrets/creds"
        return httpx.Response(200, json={"data": data})

    assert await _api(httpx.MockTransport(handle)).read_secret("ns", "creds") == {
        "accessKeyId": "AK",
        "accessKeySecret": "s",
    }


async def test_a_missing_secret_reads_as_none() -> None:
    api = _api(httpx.MockTransport(lambda request: httpx.Response(404, json={})))
    assert await api.read_secret("ns", "absent") is None


async def test_a_forbidden_secret_is_a_permission_error_naming_it() -> None:
    api = _api(httpx.MockTransport(lambda request: httpx.Response(403, json={})))
    with pytest.raises(PermissionError, match="ns/creds"):
        await api.read_secret("ns", "creds")


async def test_events_name_the_object_reason_and_type() -> None:
    posted: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(201, json={})

    body = {
        "apiVersion": "ens.image-operator.io/v1alpha1",
        "kind": "EnsImage",
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
    }
    await _api(httpx.MockTransport(handle)).post_event(
        body, "Warning", "ImportFailed", "image m-1 is Pack_failed"
    )
    event = posted[0]
    assert (event["type"], event["reason"], event["message"]) == (
        "Warning",
        "ImportFailed",
        "image m-1 is Pack_failed",
    )
    assert event["involvedObject"] == {
        "apiVersion": "ens.image-operator.io/v1alpha1",
        "kind": "EnsImage",
        "name": "web",
        "namespace": "ns",
        "uid": "u1",
    }
