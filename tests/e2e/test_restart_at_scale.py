"""An operator restarted next to many existing EnsImages handles new work at once.

kopf makes every handler wait until all of its indexes hold every object; with a bounded worker
pool smaller than the number of objects, that moment never came and the operator did nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
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


def test_a_restarted_operator_lists_its_objects_a_page_at_a_time(tmp_path: Path) -> None:
    # One answer holding every object was held as text and decoded at once: at 5000 objects on a
    # real API server that was the operator's memory peak of a restart (docs/performance.md, P6).
    with LocalStack(tmp_path, step_seconds=0.5, fast_poll_interval=0.5) as stack:
        asyncio.run(create_stable(stack, 1200))
        assert stack.sandbox is not None and stack.sandbox.url is not None
        requests = f"{stack.sandbox.url}/_sandbox/requests"
        httpx.post(requests, json={"log": True}).raise_for_status()
        stack.start_operator()
        deadline = time.monotonic() + WITHIN
        pages: list[dict[str, Any]] = []
        while time.monotonic() < deadline and len(pages) < 3:
            log = httpx.get(requests, params={"since": "0"}).json()["log"]
            pages = [entry for entry in log if str(entry["client"]).startswith("kopf/")
                     and entry["verb"] == "list" and entry["resource"].startswith("ensimages.")]  # fmt: skip
            time.sleep(0.2)
    assert [int(page["query"].get("limit", 0)) for page in pages] == [500, 500, 500]
    assert [bool(page["query"].get("continue")) for page in pages] == [False, True, True]
