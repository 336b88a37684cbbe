"""kubectl against the local Kubernetes API (or a real cluster): what a user would type, with polling."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

API_VERSION = "ens.image-operator.io/v1alpha1"


class Cluster:
    """kubectl bound to one kubeconfig and one namespace."""

    def __init__(self, kubeconfig: Path, namespace: str, kubectl: str = "kubectl") -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.kubectl_binary = kubectl  # one within version skew of the cluster

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        result = subprocess.run(
            [self.kubectl_binary, "--namespace", self.namespace, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def apply(self, manifest: Mapping[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
        """kubectl apply one object (namespace filled in)."""
        document = dict(manifest)
        document.setdefault("metadata", {})
        document["metadata"] = {"namespace": self.namespace, **document["metadata"]}
        return self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(document), check=check)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        result = self.kubectl("get", kind, name, "-o", "json", check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name} failed: {result.stderr.strip()}")
        body: dict[str, Any] = json.loads(result.stdout)
        return body

    def wait_for(
        self,
        kind: str,
        name: str,
        predicate: Callable[[dict[str, Any] | None], bool],
        *,
        timeout: float = 60.0,
        what: str = "the expected state",
    ) -> dict[str, Any] | None:
        """Poll the object until ``predicate`` holds; fail with its last state otherwise."""
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            body = self.get(kind, name)
            if predicate(body):
                return body
            time.sleep(0.3)
        raise AssertionError(
            f"{kind}/{name} did not reach {what} in {timeout}s; last seen: {json.dumps(body)}"
        )

    def wait_condition(
        self, kind: str, name: str, type_: str, status: str = "True", **kwargs: Any
    ) -> dict[str, Any]:
        body = self.wait_for(
            kind,
            name,
            lambda body: (condition(body, type_) or {}).get("status") == status,
            what=f"{type_}={status}",
            **kwargs,
        )
        assert body is not None
        return body

    def wait_gone(self, kind: str, name: str, timeout: float = 60.0) -> None:
        self.wait_for(kind, name, lambda body: body is None, timeout=timeout, what="deletion")

    def events(self, name: str) -> list[dict[str, Any]]:
        result = self.kubectl("get", "events", "-o", "json", check=False)
        if result.returncode != 0:
            return []
        items = json.loads(result.stdout).get("items", [])
        return [event for event in items if (event.get("involvedObject") or {}).get("name") == name]


def condition(body: Mapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def ens_image(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "EnsImage", "metadata": {"name": name}, "spec": spec}


def oss(obj: str, bucket: str = "images") -> dict[str, Any]:
    return {"oss": {"bucket": bucket, "object": obj, "region": "cn-beijing"}}


def unique(prefix: str) -> str:
    """An object (and image) name no other test uses: the emulator's account is shared."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def unmanaged_image(cluster: Cluster) -> str:
    """The id of an Available image that no EnsImage manages: imported, then released with Retain."""
    source = unique("src")
    cluster.apply(ens_image(source, source=oss("web.qcow2"), deletionPolicy="Retain"))
    image_id: str = cluster.wait_condition("ensimage", source, "Ready")["status"]["imageId"]
    cluster.kubectl("delete", "ensimage", source, "--wait=false")
    cluster.wait_gone("ensimage", source)
    return image_id


def live_images(stack: Any, name: str) -> list[dict[str, Any]]:
    """The emulator's images of this exact name that are not deleted."""
    images: list[dict[str, Any]] = stack.admin("GET", "images")
    return [image for image in images if image.get("ImageName") == name and not image.get("DeletedAt")]
