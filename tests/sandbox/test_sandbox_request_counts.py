"""The sandbox's request counter: by client, credentials, verb and resource; an opt-in log with bodies."""

from __future__ import annotations

import httpx
import pytest
from fidelity_kit import GROUP, TEST_CRD

from ens_image_kit.sandbox.request_counts import REQUESTS_PATH, classify
from ens_image_kit.sandbox.server import running_sandbox

GADGETS = f"/apis/{GROUP}/v1alpha1/namespaces/default/gadgets"


@pytest.mark.parametrize(
    ("method", "path", "query", "verb", "resource", "name"),
    [
        ("GET", GADGETS, {}, "list", f"gadgets.{GROUP}", None),
        ("GET", GADGETS, {"watch": "true"}, "watch", f"gadgets.{GROUP}", None),
        ("GET", f"/apis/{GROUP}/v1alpha1/gadgets", {"watch": "1"}, "watch", f"gadgets.{GROUP}", None),
        ("GET", f"{GADGETS}/g1", {}, "get", f"gadgets.{GROUP}", "g1"),
        ("PATCH", f"{GADGETS}/g1/status", {}, "patch", f"gadgets.{GROUP}/status", "g1"),
        ("PUT", f"{GADGETS}/g1", {}, "update", f"gadgets.{GROUP}", "g1"),
        ("DELETE", f"{GADGETS}/g1", {}, "delete", f"gadgets.{GROUP}", "g1"),
        ("DELETE", GADGETS, {}, "deletecollection", f"gadgets.{GROUP}", None),
        ("POST", "/api/v1/namespaces/default/events", {}, "create", "events", None),
        ("GET", "/api/v1/namespaces/default/secrets/creds", {}, "get", "secrets", "creds"),
        ("GET", "/api/v1/namespaces", {}, "list", "namespaces", None),
        ("GET", "/api/v1/namespaces/default", {}, "get", "namespaces", "default"),
        ("PUT", "/api/v1/namespaces/default/finalize", {}, "update", "namespaces/finalize", "default"),
        ("PATCH", "/apis/kopf.dev/v1/clusterkopfpeerings/p", {}, "patch", "clusterkopfpeerings.kopf.dev",
         "p"),
        ("GET", "/apis/kopf.dev/v1", {}, "get", "discovery", None),
        ("GET", "/api", {}, "get", "discovery", None),
        ("GET", "/version", {}, "get", "version", None),
        ("GET", "/openapi/v3", {}, "get", "openapi", None),
    ],
)  # fmt: skip
def test_a_request_is_classified_as_the_audit_log_would_name_it(
    method: str, path: str, query: dict[str, str], verb: str, resource: str, name: str | None
) -> None:
    what = classify(method, path, query)
    assert (what.verb, what.resource, what.name) == (verb, resource, name)


async def test_requests_are_counted_by_client_credentials_verb_and_resource() -> None:
    body = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Gadget", "metadata": {"name": "g1"},
            "spec": {"name": "gadget", "size": 1}}  # fmt: skip
    async with running_sandbox(crds=[TEST_CRD]) as sandbox:
        operator = {"User-Agent": "kopf/1.0", "Authorization": "Bearer sandbox"}
        async with (
            httpx.AsyncClient(base_url=sandbox.url, headers={"User-Agent": "bench"}) as bench,
            httpx.AsyncClient(base_url=sandbox.url, headers=operator) as kopf,
        ):
            assert (await bench.post(GADGETS, json=body)).status_code == 201
            assert (await kopf.get(f"{GADGETS}/g1")).status_code == 200
            assert (await kopf.get(f"{GADGETS}/g1")).status_code == 200
            assert (await kopf.get(f"{GADGETS}/missing")).status_code == 404
            patch = {"metadata": {"finalizers": ["x/y"]}}
            merge = {"Content-Type": "application/merge-patch+json"}
            assert (await kopf.patch(f"{GADGETS}/g1", json=patch, headers=merge)).status_code == 200
            answer = (await bench.get(REQUESTS_PATH)).json()
        counts = {
            (c["client"], c["authenticated"], c["verb"], c["resource"]): c["count"] for c in answer["counts"]
        }
        assert counts == {
            ("bench", False, "create", f"gadgets.{GROUP}"): 1,
            ("kopf/1.0", True, "get", f"gadgets.{GROUP}"): 3,
            ("kopf/1.0", True, "patch", f"gadgets.{GROUP}"): 1,
        }
        assert answer["total"] == 5 and answer["logging"] is False
        assert "log" not in answer  # no log unless asked for


async def test_the_log_is_opt_in_keeps_write_bodies_and_never_a_secrets_body() -> None:
    async with running_sandbox(crds=[TEST_CRD]) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        started = await http.post(REQUESTS_PATH, json={"log": True, "bodies": True, "limit": 3})
        assert started.json()["logging"] is True
        secret = {"metadata": {"name": "creds"}, "stringData": {"key": "canary-value"}}
        assert (await http.post("/api/v1/namespaces/default/secrets", json=secret)).status_code == 201
        event = {"metadata": {"name": "e1"}, "involvedObject": {"name": "g1"}, "reason": "Seen"}
        assert (await http.post("/api/v1/namespaces/default/events", json=event)).status_code == 201
        assert (await http.get("/api/v1/namespaces/default/secrets/creds")).status_code == 200
        log = (await http.get(REQUESTS_PATH, params={"since": "0"})).json()["log"]
        assert [(e["verb"], e["resource"], e["code"]) for e in log] == [
                ("create", "secrets", 201), ("create", "events", 201), ("get", "secrets", 200),
            ]  # fmt: skip
        assert "body" not in log[0] and "canary-value" not in str(log)
        assert log[1]["body"]["reason"] == "Seen"
        assert "body" not in log[2]  # reads have no body
        # bounded: the oldest entries go; ``since`` leaves out what was read already
        await http.get("/version")
        every = (await http.get(REQUESTS_PATH, params={"since": "0"})).json()["log"]
        assert [e["resource"] for e in every] == ["events", "secrets", "version"]
        newer = (await http.get(REQUESTS_PATH, params={"since": str(log[-1]["seq"])})).json()["log"]
        assert [(e["verb"], e["resource"]) for e in newer] == [("get", "version")]
        cleared = (await http.delete(REQUESTS_PATH, params={"since": "0"})).json()
        assert cleared["counts"] == [] and cleared["log"] == []
        assert (await http.post(REQUESTS_PATH, json={"limit": 0})).status_code == 400
        assert (await http.post(REQUESTS_PATH, json={"log": False})).json()["logging"] is False
