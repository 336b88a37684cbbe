"""Kubernetes write faults: the local API answers chosen writes with 404, 409, 429, 500 or no answer.

The first tests show the tool; the others what the operator makes of such answers to its status
writes: a write that says the object is gone never leads to an ImportImage, and a throttled one
is repeated after its Retry-After until the object converges.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from faultkit import Kube, emulator_images, ens_image, is_ready, make_stack, oss, wait_until

from ens_image_kit.stack import LocalStack

NAMESPACE = "writes"
STATUS_OF = "/namespaces/writes/ensimages/{name}/status$"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = make_stack(tmp_path_factory.mktemp("kube-writes"))
    try:
        stack.start_operator()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def kube(stack: LocalStack) -> Iterator[Kube]:
    kube = Kube(stack, NAMESPACE)
    yield kube
    kube.write_faults(None)


def _ready(kube: Kube, name: str) -> bool:
    return any(item["metadata"]["name"] == name and is_ready(item) for item in kube.items("EnsImage"))


def _images_named(stack: LocalStack, name: str) -> list[str]:
    return [image["ImageId"] for image in emulator_images(stack) if image["ImageName"] == name]


def test_a_chosen_write_gets_the_injected_status_and_retry_after(kube: Kube) -> None:
    kube.write_faults([{"method": "POST", "path": "/ensimages$", "code": 429, "retryAfter": 2, "times": 1}])
    refused = kube.create(ens_image("tool-429", source=oss("tool.qcow2"), deletionPolicy="Retain"))
    accepted = kube.create(ens_image("tool-429", source=oss("tool.qcow2"), deletionPolicy="Retain"))
    assert (refused.status_code, refused.headers.get("Retry-After")) == (429, "2")
    assert accepted.status_code == 201


def test_a_dropped_write_after_it_took_effect_leaves_no_answer_but_the_object(kube: Kube) -> None:
    kube.write_faults([{"method": "POST", "path": "/ensimages$", "drop": True, "after": True, "times": 1}])
    with pytest.raises(httpx.TransportError):
        kube.create(ens_image("tool-drop", source=oss("tool.qcow2"), deletionPolicy="Retain"))
    assert any(item["metadata"]["name"] == "tool-drop" for item in kube.items("EnsImage"))


def test_an_intent_write_answered_not_found_never_leads_to_an_import(stack: LocalStack, kube: Kube) -> None:
    [rule] = kube.write_faults([{"method": "PATCH", "path": STATUS_OF.format(name="vanishing"), "code": 404}])
    assert kube.create(ens_image("vanishing", source=oss("vanishing.qcow2"))).status_code == 201
    assert kube.create(ens_image("witness", source=oss("witness.qcow2"))).status_code == 201
    # The witness, created after it, is Ready: the operator has had its passes over both objects.
    wait_until(lambda: _ready(kube, "witness"), 60, lambda: "the witness never became Ready")

    def hits() -> int:
        return int(next(r["hits"] for r in kube.write_faults([]) if r["path"] == rule["path"]))

    wait_until(lambda: hits() >= 2, 30, lambda: "the operator never tried to record an intent")
    assert _images_named(stack, "vanishing") == []


def test_throttled_status_writes_are_repeated_after_their_retry_after(stack: LocalStack, kube: Kube) -> None:
    path = STATUS_OF.format(name="throttled")
    kube.write_faults([{"method": "PATCH", "path": path, "code": 429, "retryAfter": 1, "times": 3}])
    assert kube.create(ens_image("throttled", source=oss("throttled.qcow2"))).status_code == 201
    wait_until(lambda: _ready(kube, "throttled"), 60, lambda: "the throttled object never became Ready")
    assert len(_images_named(stack, "throttled")) == 1
