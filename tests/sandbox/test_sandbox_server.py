"""The sandbox itself: the subcommand, in-process use, fault injection through kmock, bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import kmock
import pytest
import yaml
from fidelity_kit import GROUP, TEST_CRD, Gadgets
from kubernetes.client.exceptions import ApiException

from ens_image_kit.sandbox.api import ApiRequest, KubernetesApi
from ens_image_kit.sandbox.server import REQUEST_LOG_LIMIT, Sandbox, running_sandbox


def test_the_subcommand_prints_its_url_and_writes_a_working_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    command = [sys.executable, "-m", "ens_image_operator.cli", "sandbox", "--port", "0",
               "--kubeconfig", str(kubeconfig), "--crds", str(TEST_CRD)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = ""
        deadline = time.monotonic() + 30
        while "listening on" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url
        assert httpx.get(f"{url}/apis/{GROUP}/v1alpha1").json()["resources"][0]["name"] == "gadgets"
    finally:
        process.terminate()
        assert process.wait(15) == 0


async def test_running_sandbox_serves_in_process_and_can_be_cleared() -> None:
    async with running_sandbox(crds=[TEST_CRD]) as sandbox:
        body = {"metadata": {"name": "cm"}, "data": {"a": "b"}}
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            created = await http.post("/api/v1/namespaces/default/configmaps", json=body)
            assert created.status_code == 201
            assert [o["metadata"]["name"] for o in sandbox.objects("configmaps", "default")] == ["cm"]
            sandbox.clear()
            assert sandbox.objects("configmaps") == []
            assert (await http.get(f"/apis/{GROUP}/v1alpha1/gadgets")).status_code == 200


def test_a_kmock_reaction_overrides_the_api_for_fault_injection(local: Sandbox, gadgets: Gadgets) -> None:
    local.emulator["post", kmock.resource(GROUP, "v1alpha1", "gadgets")] << 503
    try:
        with pytest.raises(ApiException) as raised:
            gadgets.make("g1")
        assert raised.value.status == 503
    finally:
        local.remove_reactions()
    assert gadgets.make("g1")["metadata"]["name"] == "g1"


def test_the_request_log_stays_bounded(local: Sandbox, gadgets: Gadgets) -> None:
    for index in range(REQUEST_LOG_LIMIT * 2):
        gadgets.make(f"g{index}")
    assert len(local.emulator._requests) <= REQUEST_LOG_LIMIT + 1


def test_kopf_run_style_discovery_of_namespaces_works(local: Sandbox) -> None:
    # kmock alone answers 500 here, which leaves `kopf run --namespace=X` retrying forever.
    response = httpx.get(f"{local.url}/api/v1/namespaces")
    assert response.status_code == 200
    assert response.json()["kind"] == "NamespaceList"


@pytest.mark.looptime
async def test_a_watch_from_a_forgotten_resource_version_gets_410_expired() -> None:
    api = KubernetesApi(history=3)
    for index in range(5):
        body = json.dumps({"metadata": {"name": f"cm{index}"}}).encode()
        await api.handle(ApiRequest("POST", "/api/v1/namespaces/default/configmaps", body=body))
    query = {"watch": "true", "resourceVersion": "5", "timeoutSeconds": "1"}
    reply = await api.handle(ApiRequest("GET", "/api/v1/namespaces/default/configmaps", query=query))
    assert reply.stream is not None
    lines = [json.loads(chunk) async for chunk in reply.stream if chunk]
    assert lines[0]["type"] == "ERROR"
    assert lines[0]["object"]["code"] == 410


async def test_an_updated_crd_changes_admission_at_once() -> None:
    async with running_sandbox(crds=[TEST_CRD]) as sandbox:
        crd_path = (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.sandbox-test.image-operator.io"
        )
        # move spec.size's maximum from 10 to 100
        schema_path = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/size/maximum"
        patch = [{"op": "replace", "path": schema_path, "value": 100}]
        gadgets_path = f"/apis/{GROUP}/v1alpha1/namespaces/default/gadgets"
        body = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Gadget", "metadata": {"name": "g1"},
                "spec": {"name": "gadget", "size": 50}}  # fmt: skip
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            assert (await http.post(gadgets_path, json=body)).status_code == 422
            headers = {"Content-Type": "application/json-patch+json"}
            assert (await http.patch(crd_path, content=json.dumps(patch), headers=headers)).status_code == 200
            assert (await http.post(gadgets_path, json=body)).status_code == 201


@pytest.mark.looptime
async def test_a_quiet_watch_that_allows_bookmarks_gets_them_with_the_current_version() -> None:
    api = KubernetesApi(bookmark_seconds=60)
    query = {"watch": "true", "resourceVersion": str(api.store.revision), "allowWatchBookmarks": "true",
             "timeoutSeconds": "270"}  # fmt: skip
    reply = await api.handle(ApiRequest("GET", "/api/v1/namespaces/default/configmaps", query=query))
    assert reply.stream is not None
    lines = [json.loads(chunk) async for chunk in reply.stream if chunk]
    assert [line["type"] for line in lines] == ["BOOKMARK"] * 4  # at 60, 120, 180 and 240 s
    assert lines[0]["object"]["metadata"]["resourceVersion"] == str(api.store.revision)


@pytest.mark.looptime
async def test_a_watch_without_bookmarks_allowed_gets_none() -> None:
    api = KubernetesApi(bookmark_seconds=60)
    query = {"watch": "true", "resourceVersion": str(api.store.revision), "timeoutSeconds": "300"}
    reply = await api.handle(ApiRequest("GET", "/api/v1/namespaces/default/configmaps", query=query))
    assert reply.stream is not None
    assert [chunk async for chunk in reply.stream if chunk] == []
