"""The chart installed with real Helm 3 and Helm 4 into a real kube-apiserver: install, upgrade, uninstall.

Every rendered object must be accepted by the API server (its schemas, its admission, RBAC's
escalation checks). There is no kubelet, so Pods never run: helm is not asked to wait for them.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from chart_tools import CHART, Toolset
from tests.cluster.controlplane import ControlPlane

CRD_NAMES = {
    "ensimages.ens.image-operator.io",
    "ensimageexports.ens.image-operator.io",
    "ensimagecatalogs.ens.image-operator.io",
}
# name -> values; "{watched}" stands for two namespaces made for the test
INSTALLS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespace-scope": {"installScope": "namespace", "watchNamespaces": "{watched}"},
    "peering": {"replicaCount": 2, "peering": {"enabled": True}},
}


@dataclass
class Release:
    """One helm release of the chart in its own namespace."""

    tools: Toolset
    plane: ControlPlane
    name: str
    namespace: str
    values: dict[str, Any]

    def helm(self, *args: str, values: dict[str, Any] | None = None) -> str:
        done = self.tools.helm(
            *args, "--namespace", self.namespace, "--kubeconfig", str(self.plane.kubeconfig), values=values
        )
        assert done.returncode == 0, f"{self.tools.label} helm {args[0]} failed:\n{done.stderr}"
        return done.stdout

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(self.plane.kubectl), "--kubeconfig", str(self.plane.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def install(self) -> None:
        self.helm("install", self.name, str(CHART), "--create-namespace", values=self.values)

    def manifest(self) -> list[dict[str, Any]]:
        """The objects of the release's current revision, as helm rendered them."""
        text = self.helm("get", "manifest", self.name)
        return [doc for doc in yaml.safe_load_all(text) if doc]

    def on_server(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of ``objects`` that the API server holds (each with its namespace filled in)."""
        documents = []
        for obj in objects:
            obj = json.loads(json.dumps(obj))
            if obj["kind"] not in CLUSTER_KINDS:
                obj["metadata"].setdefault("namespace", self.namespace)
            documents.append(obj)
        out = self.kubectl(
            "get", "-f", "-", "--ignore-not-found", "-o", "json", stdin=yaml.safe_dump_all(documents)
        )
        if not out.strip():
            return []
        found = json.loads(out)
        items: list[dict[str, Any]] = found.get("items", [found]) if found.get("kind") == "List" else [found]
        return items


CLUSTER_KINDS = {"ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering", "Namespace"}


def _identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


@pytest.fixture(params=sorted(INSTALLS))
def release(request: pytest.FixtureRequest, tools: Toolset, control_plane: ControlPlane) -> Iterator[Release]:
    suffix = uuid.uuid4().hex[:6]
    values = json.loads(json.dumps(INSTALLS[request.param]))
    release = Release(tools, control_plane, f"ens-{suffix}", f"ens-{suffix}", values)
    if "peering" in values:
        values["peering"]["name"] = release.name  # a ClusterKopfPeering is cluster-wide: one per release
    if values.get("watchNamespaces") == "{watched}":
        values["watchNamespaces"] = [f"team-a-{suffix}", f"team-b-{suffix}"]
        for namespace in values["watchNamespaces"]:
            release.kubectl("create", "namespace", namespace)
    yield release
    release.tools.helm("uninstall", release.name, "--namespace", release.namespace,
                       "--kubeconfig", str(control_plane.kubeconfig))  # fmt: skip
    subprocess.run(
        [str(control_plane.kubectl), "--kubeconfig", str(control_plane.kubeconfig), "delete", "namespace",
         release.namespace, *values.get("watchNamespaces", []), "--wait=false", "--ignore-not-found"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


def test_helm_install_creates_every_rendered_object(release: Release) -> None:
    release.install()
    rendered = release.manifest()
    assert rendered, "the chart rendered nothing"
    assert {_identity(o) for o in release.on_server(rendered)} == {
        _identity({**o, "metadata": {"namespace": release.namespace, **o["metadata"]}})
        if o["kind"] not in CLUSTER_KINDS
        else _identity(o)
        for o in rendered
    }


def test_helm_install_establishes_the_crds_of_the_chart(release: Release) -> None:
    release.install()
    for name in CRD_NAMES | {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}:
        crd = json.loads(release.kubectl("get", "crd", name, "-o", "json"))
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", name


def test_helm_upgrade_changes_the_deployment_and_keeps_every_object(release: Release) -> None:
    release.install()
    upgraded = {**release.values, "podAnnotations": {"example.com/upgraded": "yes"}}
    release.helm("upgrade", release.name, str(CHART), values=upgraded)
    rendered = release.manifest()
    assert len(release.on_server(rendered)) == len(rendered)
    selector = f"app.kubernetes.io/instance={release.name}"
    listed = release.kubectl("get", "deployments", "-n", release.namespace, "-l", selector, "-o", "json")
    [deployment] = json.loads(listed)["items"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["example.com/upgraded"] == "yes"
    assert deployment["metadata"]["generation"] == 2
    status = json.loads(release.helm("status", release.name, "-o", "json"))
    assert status["version"] == 2 and status["info"]["status"] == "deployed"


def test_helm_uninstall_removes_every_object_but_keeps_the_crds(release: Release) -> None:
    release.install()
    rendered = release.manifest()
    release.helm("uninstall", release.name)
    assert release.on_server(rendered) == []
    for name in CRD_NAMES:
        release.kubectl("get", "crd", name)
