"""kubectl against the API: apply, get (server-side tables), describe, patch, wait, delete, explain."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fidelity_kit import Cluster, Gadgets

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

pytestmark = pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl is not installed on this machine")

MANIFEST = """\
apiVersion: sandbox-test.image-operator.io/v1alpha1
kind: Gadget
metadata:
  name: {name}
spec:
  name: gadget
  size: {size}
"""


def kubectl(
    cluster: Cluster, namespace: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # kubectl caches discovery per host:port; a sandbox on a reused port must not see a stale cache.
    cache = cluster.workdir / "kubectl-cache"
    command = [
        cluster.kubectl,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--cache-dir",
        str(cache),
        "--namespace",
        namespace,
    ]
    command += args
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_apply_creates_then_configures_with_a_new_generation(
    cluster: Cluster, namespace: str, gadgets: Gadgets
) -> None:
    assert "created" in ok(
        kubectl(cluster, namespace, "apply", "-f", "-", stdin=MANIFEST.format(name="g1", size=1))
    )
    assert "configured" in ok(
        kubectl(cluster, namespace, "apply", "-f", "-", stdin=MANIFEST.format(name="g1", size=2))
    )
    stored = gadgets.get("g1")
    assert stored["spec"]["size"] == 2
    assert stored["metadata"]["generation"] == 2


def test_apply_of_an_invalid_object_shows_the_api_error(cluster: Cluster, namespace: str) -> None:
    result = kubectl(cluster, namespace, "apply", "-f", "-", stdin=MANIFEST.format(name="g1", size=99))
    assert result.returncode != 0
    assert "is invalid" in result.stderr
    assert "spec.size" in result.stderr


def test_apply_with_an_unknown_field_is_refused_by_server_side_validation(
    cluster: Cluster, namespace: str
) -> None:
    manifest = MANIFEST.format(name="g1", size=1) + "  bogus: 1\n"
    result = kubectl(cluster, namespace, "apply", "-f", "-", stdin=manifest)
    assert result.returncode != 0
    assert 'unknown field "spec.bogus"' in result.stderr


def test_get_prints_the_crd_printer_columns(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1", size=4)
    gadgets.patch_status("g1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    header, row = ok(kubectl(cluster, namespace, "get", "gadgets")).splitlines()
    assert header.split() == ["NAME", "SIZE", "READY", "AGE"]
    assert row.split()[:3] == ["g1", "4", "True"]


def test_get_wide_adds_lower_priority_columns(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1")
    header = ok(kubectl(cluster, namespace, "get", "gadgets", "-o", "wide")).splitlines()[0]
    assert "PHASE" in header.split()


@pytest.mark.parametrize("name", ["gad", "gadget", "sandboxtest"])
def test_get_by_short_name_singular_or_category(
    cluster: Cluster, namespace: str, gadgets: Gadgets, name: str
) -> None:
    gadgets.make("g1")
    assert "g1" in ok(kubectl(cluster, namespace, "get", name))


def test_describe_shows_spec_and_status(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1", size=7)
    gadgets.patch_status("g1", {"status": {"phase": "Running"}})
    out = ok(kubectl(cluster, namespace, "describe", "gadget", "g1"))
    assert "Size:" in out
    assert "Running" in out


def test_patch_merge_changes_spec(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1", size=1)
    ok(kubectl(cluster, namespace, "patch", "gadget", "g1", "--type=merge", "-p", '{"spec":{"size":6}}'))
    assert gadgets.get("g1")["spec"]["size"] == 6


def test_patch_status_subresource_changes_status(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1")
    patch = '{"status":{"phase":"Done"}}'
    ok(
        kubectl(
            cluster, namespace, "patch", "gadget", "g1", "--subresource=status", "--type=merge", "-p", patch
        )
    )
    assert gadgets.get("g1")["status"]["phase"] == "Done"


def test_wait_for_condition_returns_once_ready(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1")
    gadgets.patch_status("g1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    out = ok(kubectl(cluster, namespace, "wait", "--for=condition=Ready", "gadget/g1", "--timeout=10s"))
    assert "condition met" in out


def test_wait_for_condition_times_out_when_not_ready(
    cluster: Cluster, namespace: str, gadgets: Gadgets
) -> None:
    gadgets.make("g1")
    result = kubectl(cluster, namespace, "wait", "--for=condition=Ready", "gadget/g1", "--timeout=1s")
    assert result.returncode != 0


def test_delete_without_waiting_leaves_a_finalized_object_terminating(
    cluster: Cluster, namespace: str, gadgets: Gadgets
) -> None:
    body = gadgets.body("g1")
    body["metadata"]["finalizers"] = ["sandbox-test.image-operator.io/hold"]
    gadgets.create(body)
    ok(kubectl(cluster, namespace, "delete", "gadget", "g1", "--wait=false"))
    assert gadgets.get("g1")["metadata"]["deletionTimestamp"]


def test_explain_shows_field_descriptions(cluster: Cluster, namespace: str) -> None:
    out = ok(kubectl(cluster, namespace, "explain", "gadget.spec.name"))
    assert "Gadget name." in out


def test_create_of_built_in_kinds_works(cluster: Cluster, namespace: str) -> None:
    # kubectl sends these as protobuf
    ok(kubectl(cluster, namespace, "create", "configmap", "c1", "--from-literal=k=v"))
    ok(kubectl(cluster, namespace, "create", "secret", "generic", "s1", "--from-literal=pw=hunter2"))
    assert cluster.core.read_namespaced_config_map("c1", namespace).data == {"k": "v"}
    secret = cluster.core.read_namespaced_secret("s1", namespace)
    assert secret.data == {"pw": "aHVudGVyMg=="}
    assert secret.type == "Opaque"


def test_create_namespace_works(cluster: Cluster, namespace: str) -> None:
    created = f"{namespace}-k"
    try:
        ok(kubectl(cluster, namespace, "create", "namespace", created))
        assert cluster.core.read_namespace(created).status.phase == "Active"
    finally:
        kubectl(cluster, namespace, "delete", "namespace", created, "--wait=false")


def test_label_and_get_by_label_selector(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    gadgets.make("g1")
    gadgets.make("g2")
    ok(kubectl(cluster, namespace, "label", "gadget", "g2", "tier=edge"))
    out = ok(kubectl(cluster, namespace, "get", "gadgets", "-l", "tier=edge", "-o", "name"))
    assert out.split() == ["gadget.sandbox-test.image-operator.io/g2"]


def test_apply_with_warn_validation_prints_the_server_warning(cluster: Cluster, namespace: str) -> None:
    manifest = MANIFEST.format(name="g1", size=1) + "  bogus: 1\n"
    result = kubectl(cluster, namespace, "apply", "--validate=warn", "-f", "-", stdin=manifest)
    assert result.returncode == 0, result.stderr
    assert 'unknown field "spec.bogus"' in result.stderr


def test_get_events_shows_type_reason_object_and_message(cluster: Cluster, namespace: str) -> None:
    event = {
        "metadata": {"generateName": "g1-"},
        "involvedObject": {"kind": "Gadget", "name": "g1", "namespace": namespace},
        "reason": "Testing",
        "message": "hello from the suite",
        "type": "Warning",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    cluster.core.create_namespaced_event(namespace, event)
    header, row = ok(kubectl(cluster, namespace, "get", "events")).splitlines()
    assert header.split()[-4:] == ["TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row.split()[-7:] == ["Warning", "Testing", "gadget/g1", "hello", "from", "the", "suite"]


def test_server_side_apply_creates_then_updates(cluster: Cluster, namespace: str, gadgets: Gadgets) -> None:
    for size in (1, 2):
        manifest = MANIFEST.format(name="g1", size=size)
        assert "serverside-applied" in ok(
            kubectl(cluster, namespace, "apply", "--server-side", "-f", "-", stdin=manifest)
        )
    assert gadgets.get("g1")["spec"]["size"] == 2


WORKLOAD = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: op}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: op}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: op}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: op}
subjects: [{kind: ServiceAccount, name: op}]
---
apiVersion: v1
kind: Service
metadata: {name: op}
spec: {ports: [{port: 8080}], selector: {app: op}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: op}
spec:
  selector: {matchLabels: {app: op}}
  template:
    metadata: {labels: {app: op}}
    spec: {containers: [{name: op, image: example.com/op:1}]}
"""


def test_apply_of_a_workload_manifest_stores_every_kind(cluster: Cluster, namespace: str) -> None:
    ok(kubectl(cluster, namespace, "apply", "-f", "-", stdin=WORKLOAD))
    names = ok(
        kubectl(cluster, namespace, "get", "serviceaccount,role,rolebinding,service,deployment", "-o", "name")
    )
    expected = {
        "deployment.apps/op",
        "role.rbac.authorization.k8s.io/op",
        "rolebinding.rbac.authorization.k8s.io/op",
        "service/op",
        "serviceaccount/op",
    }
    assert expected <= set(names.split())  # a real cluster adds its own "default" service account
    deployment = ok(
        kubectl(cluster, namespace, "get", "deployment", "op", "-o", "jsonpath={.metadata.generation}")
    )
    assert deployment == "1"
