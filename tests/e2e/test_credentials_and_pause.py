"""Credentials from a Secret (wrong, then fixed) and the pause annotation."""

from __future__ import annotations

import base64

from cluster import Cluster, condition, ens_image, live_images, oss, unique
from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, LocalStack

PAUSED = "ens.image-operator.io/paused"


def _secret(cluster: Cluster, name: str, key_id: str, key_secret: str) -> None:
    def encode(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "data": {"accessKeyId": encode(key_id), "accessKeySecret": encode(key_secret)},
        }
    )


def test_a_wrong_secret_stalls_naming_it_and_recovers_once_fixed(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("creds")
    _secret(cluster, "team-key", DEFAULT_KEY_ID, "wrong-secret")
    cluster.apply(ens_image(name, source=oss("web.qcow2"), credentialsRef={"name": "team-key"}))
    stalled = condition(cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and f"Secret {cluster.namespace}/team-key" in stalled["message"]
    assert "wrong-secret" not in stalled["message"]
    _secret(cluster, "team-key", DEFAULT_KEY_ID, DEFAULT_KEY_SECRET)
    cluster.wait_condition("ensimage", name, "Ready", timeout=90)
    assert len(live_images(stack, name)) == 1


def test_a_missing_referenced_secret_stalls_naming_it(cluster: Cluster) -> None:
    name = unique("nosecret")
    cluster.apply(ens_image(name, source=oss("web.qcow2"), credentialsRef={"name": "absent"}))
    stalled = condition(cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and stalled["reason"] == "CredentialsError"
    assert f"Secret {cluster.namespace}/absent" in stalled["message"]


def test_the_namespace_default_secret_is_used_without_a_reference(cluster: Cluster) -> None:
    name = unique("default")
    _secret(cluster, "ens-credentials", DEFAULT_KEY_ID, "not-the-key")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    stalled = condition(cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and f"Secret {cluster.namespace}/ens-credentials" in stalled["message"]


def test_a_paused_image_makes_no_cloud_calls_until_resumed(stack: LocalStack, cluster: Cluster) -> None:
    name = unique("paused")
    manifest = ens_image(name, source=oss("web.qcow2"))
    manifest["metadata"]["annotations"] = {PAUSED: "true"}
    cluster.apply(manifest)
    body = cluster.wait_for(
        "ensimage",
        name,
        lambda body: (condition(body, "Reconciling") or {}).get("reason") == "Paused",
        what="Paused",
    )
    assert (condition(body, "Reconciling") or {}).get("status") == "False"
    assert live_images(stack, name) == []  # the first pass saw the pause and did not import
    cluster.kubectl("annotate", "ensimage", name, f"{PAUSED}-")
    cluster.wait_condition("ensimage", name, "Ready")


def test_a_deletion_stuck_on_bad_credentials_is_released_by_switching_to_retain(
    stack: LocalStack, cluster: Cluster
) -> None:
    name = unique("stuck")
    _secret(cluster, "team-key", DEFAULT_KEY_ID, DEFAULT_KEY_SECRET)
    cluster.apply(ens_image(name, source=oss("web.qcow2"), credentialsRef={"name": "team-key"}))
    cluster.wait_condition("ensimage", name, "Ready")
    _secret(cluster, "broken-key", DEFAULT_KEY_ID, "not-the-key")
    cluster.kubectl(
        "patch", "ensimage", name, "--type=merge", "-p", '{"spec":{"credentialsRef":{"name":"broken-key"}}}'
    )
    cluster.kubectl("delete", "ensimage", name, "--wait=false")
    cluster.wait_condition("ensimage", name, "Stalled")
    cluster.kubectl("patch", "ensimage", name, "--type=merge", "-p", '{"spec":{"deletionPolicy":"Retain"}}')
    cluster.wait_gone("ensimage", name, timeout=90)
    assert len(live_images(stack, name)) == 1
