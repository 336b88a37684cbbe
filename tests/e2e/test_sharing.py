"""Sharing an image with another account, and that account adopting it observe-only."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cluster import Cluster, condition, ens_image, oss, unique
from ens_image_kit.emulator import DEFAULT_ACCOUNT_ID
from ens_image_kit.stack import LocalStack

OTHER_ACCOUNT = "2000000000000002"
OTHER_KEY, OTHER_SECRET = "edgeaccountkey", "edgeaccountsecret"


@pytest.fixture
def other_account(stack: LocalStack, cluster: Cluster) -> str:
    """A second ENS account in the emulator, and a Secret in the test's namespace acting for it."""
    stack.admin(
        "POST",
        "accounts",
        {"accessKeyId": OTHER_KEY, "accessKeySecret": OTHER_SECRET, "accountId": OTHER_ACCOUNT},
    )

    def encode(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    data = {"accessKeyId": encode(OTHER_KEY), "accessKeySecret": encode(OTHER_SECRET)}
    cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "edge-account"}, "data": data})
    return "edge-account"


def _emulator_image(stack: LocalStack, image_id: str) -> dict[str, Any]:
    images: list[dict[str, Any]] = stack.admin("GET", "images")  # type: ignore[assignment]
    return next(image for image in images if image["ImageId"] == image_id)


def _shared_with(accounts: list[str]) -> Any:
    return lambda body: ((body or {}).get("status") or {}).get("sharedWith") == accounts


def test_an_image_is_shared_and_the_other_account_adopts_it_observe_only(
    stack: LocalStack, cluster: Cluster, other_account: str
) -> None:
    golden, consumer = unique("golden"), unique("golden-edge")
    cluster.apply(ens_image(golden, source=oss("web.qcow2"), sharedWith=[OTHER_ACCOUNT]))
    body = cluster.wait_for(
        "ensimage", golden, _shared_with([OTHER_ACCOUNT]), what="shared with the other account"
    )
    assert body is not None
    image_id = body["status"]["imageId"]
    assert body["status"]["owner"] == "self"
    assert _emulator_image(stack, image_id)["SharedWith"] == [OTHER_ACCOUNT]

    cluster.apply(
        ens_image(consumer, imageId=image_id, deletionPolicy="Delete", credentialsRef={"name": other_account})
    )
    adopted = cluster.wait_condition("ensimage", consumer, "Ready")
    assert adopted["status"]["owner"] == "others"

    # The consumer goes; its Delete policy cannot delete an image of another account.
    cluster.kubectl("delete", "ensimage", consumer, "--wait=false")
    cluster.wait_gone("ensimage", consumer)
    assert not _emulator_image(stack, image_id).get("DeletedAt")

    # An empty list unshares; deleting the owner's object deletes the image.
    cluster.kubectl("patch", "ensimage", golden, "--type=merge", "-p", '{"spec": {"sharedWith": []}}')
    cluster.wait_for("ensimage", golden, _shared_with([]), what="unshared")
    assert _emulator_image(stack, image_id)["SharedWith"] == []
    cluster.kubectl("delete", "ensimage", golden, "--wait=false")
    cluster.wait_gone("ensimage", golden)
    assert _emulator_image(stack, image_id).get("DeletedAt")


def test_a_refused_account_stalls_naming_it(cluster: Cluster) -> None:
    name = unique("selfshare")
    cluster.apply(
        ens_image(name, source=oss("web.qcow2"), sharedWith=[DEFAULT_ACCOUNT_ID])
    )  # its own account
    stalled = condition(cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and stalled["reason"] == "ShareFailed"
    assert DEFAULT_ACCOUNT_ID in stalled["message"]


def test_account_ids_that_are_not_digits_are_refused_at_admission(cluster: Cluster) -> None:
    refused = cluster.apply(
        ens_image(unique("badshare"), source=oss("web.qcow2"), sharedWith=["acme"]), check=False
    )
    assert refused.returncode != 0 and "sharedWith" in refused.stderr
