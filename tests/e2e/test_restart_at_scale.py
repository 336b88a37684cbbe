"""An operator restarted next to many existing EnsImages handles new work at once.

kopf makes every handler wait until all of its indexes hold every object; with a bounded worker
pool smaller than the number of objects, that moment never came and the operator did nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from populate import create_stable

from cluster import Cluster, ens_image, oss, unique
from ens_image_kit.stack import LocalStack

# A new import takes three emulator steps of 0.5 s; everything beyond that is the operator's.
WITHIN = 30.0


@pytest.fixture(params=[300, 5000], ids=lambda count: f"{count}-objects")
def restarted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LocalStack, int]]:
    """A stack whose API already holds N reconciled EnsImages when the operator starts."""
    count: int = request.param
    env = {"ENS_OPERATOR_SLOW_POLL_INTERVAL": "600"}
    with LocalStack(tmp_path, step_seconds=0.5, fast_poll_interval=0.5, operator_env=env) as stack:
        asyncio.run(create_stable(stack, count))
        stack.start_operator()
        yield stack, count


def test_a_restarted_operator_with_many_objects_imports_and_deletes(
    restarted: tuple[LocalStack, int],
) -> None:
    stack, count = restarted
    cluster = Cluster(stack.kubeconfig, "default")
    name = unique("after-restart")
    cluster.apply(ens_image(name, source=oss("web.qcow2")))
    started = time.monotonic()
    cluster.kubectl("delete", "ensimage", f"stable-{count - 1}", "--wait=false")
    cluster.wait_condition("ensimage", name, "Ready", timeout=WITHIN)
    cluster.wait_gone(
        "ensimage", f"stable-{count - 1}", timeout=max(1.0, WITHIN - (time.monotonic() - started))
    )
