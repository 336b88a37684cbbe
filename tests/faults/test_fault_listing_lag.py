"""A cloud that lists late: a new image stays invisible to DescribeSelfImages for a few seconds.

Absence is proven, never assumed: an image adopted right after its creation becomes Ready once it
shows, instead of stalling as NotFound.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from faultkit import Kube, condition, ens_image, is_ready, make_stack, oss, wait_until

from ens_image_kit.stack import LocalStack

LISTING_LAG = 5.0
OPERATOR = {"ENS_OPERATOR_LISTING_LAG": str(LISTING_LAG + 3)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = make_stack(tmp_path_factory.mktemp("listing-lag"), OPERATOR)
    try:
        stack.admin("POST", "config", {"listingLagSeconds": LISTING_LAG})
        stack.start_operator()
        yield stack
    finally:
        stack.close()


def _get(kube: Kube, name: str) -> dict[str, Any]:
    return next((item for item in kube.items("EnsImage") if item["metadata"]["name"] == name), {})


def test_an_image_adopted_moments_after_its_creation_becomes_ready(stack: LocalStack) -> None:
    kube = Kube(stack, "lag")
    # A pipeline creates the image (here through an EnsImage that keeps it and is then deleted)...
    kept = ens_image("pipeline", source=oss("p.qcow2"), deletionPolicy="Retain")
    assert kube.create(kept).status_code == 201
    wait_until(lambda: bool(_get(kube, "pipeline").get("status", {}).get("imageId")), 30, lambda: "no id")
    image_id = _get(kube, "pipeline")["status"]["imageId"]
    kube.delete("EnsImage", "pipeline")
    wait_until(lambda: not _get(kube, "pipeline"), 30, lambda: "the pipeline's object is still there")
    # ... and a moment later, while ENS does not list it yet, an EnsImage adopts it.
    assert kube.create(ens_image("adopter", imageId=image_id)).status_code == 201

    def settled() -> bool:
        body = _get(kube, "adopter")
        return is_ready(body) or condition(body, "Stalled").get("status") == "True"

    wait_until(settled, 60, lambda: f"adopter: {_get(kube, 'adopter').get('status')}")
    assert is_ready(_get(kube, "adopter")), _get(kube, "adopter").get("status")
