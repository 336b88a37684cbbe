"""Helpers of the fidelity suite: the cluster under test and shorthands for the test kind."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ens_image_kit.sandbox.server import Sandbox, SandboxThread

HERE = Path(__file__).parent
TEST_CRD = HERE / "gadgets-crd.yaml"
GROUP = "sandbox-test.image-operator.io"
VERSION = "v1alpha1"
PLURAL = "gadgets"


@dataclass
class Cluster:
    """Where the suite runs: a kubeconfig, an API client, and the sandbox when it is local."""

    kubeconfig: Path
    workdir: Path  # scratch space of this session (kubectl's cache, ...)
    api_client: client.ApiClient
    sandbox: Sandbox | None
    thread: SandboxThread | None
    kubectl: str  # a kubectl within version skew of this cluster

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)


def install_test_crd(api_client: client.ApiClient) -> None:
    crd = yaml.safe_load(TEST_CRD.read_text(encoding="utf-8"))
    extensions = client.ApiextensionsV1Api(api_client)
    try:
        extensions.create_custom_resource_definition(crd)
    except ApiException as error:
        if error.status != 409:
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = extensions.read_custom_resource_definition(crd["metadata"]["name"])
        conditions = (stored.status and stored.status.conditions) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.5)
    raise RuntimeError("the test CRD did not become Established")


class Gadgets:
    """Shorthands for the test kind in one namespace."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.api = cluster.custom
        self.namespace = namespace

    def body(self, name: str, /, **spec: Any) -> dict[str, Any]:
        spec.setdefault("name", "gadget")
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Gadget",
            "metadata": {"name": name},
            "spec": spec,
        }

    def create(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.api.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body, **kwargs
        )
        return result

    def make(self, name: str, /, **spec: Any) -> dict[str, Any]:
        return self.create(self.body(name, **spec))

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return result

    def patch(self, name: str, patch: Any, **kwargs: Any) -> dict[str, Any]:
        """A merge patch (dict) or a JSON patch (list of operations)."""
        kind = "application/json-patch+json" if isinstance(patch, list) else "application/merge-patch+json"
        result: dict[str, Any] = self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, patch, _content_type=kind, **kwargs
        )
        return result

    def patch_status(self, name: str, patch: Any) -> dict[str, Any]:
        kind = "application/json-patch+json" if isinstance(patch, list) else "application/merge-patch+json"
        result: dict[str, Any] = self.api.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, PLURAL, name, patch, _content_type=kind
        )
        return result

    def replace(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.api.replace_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, body
        )
        return result

    def delete(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return result

    def list(self, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, **kwargs
        )
        return result


def wait_gone(read: Any, timeout: float = 30.0) -> bool:
    """Poll ``read()`` until it answers 404; True if it did before the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            read()
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        time.sleep(0.05)
    return False
