"""Measurements of the operator on the local stack (not collected by pytest; minutes, not seconds).

    python tests/e2e/measure_operator.py memory 5000   # RSS with N stable EnsImages already handled
    python tests/e2e/measure_operator.py polling 200   # listing calls per cycle with N imports in flight

``memory`` creates N adopted EnsImages that look already reconciled (Ready, kopf's annotations and
finalizer in place), starts the operator and samples its RSS for five minutes: the situation of an
operator restarted next to thousands of stable objects. ``polling`` creates N imports at once and
counts the ENS calls until all are Ready.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from populate import GROUP_VERSION, api, available_image, create_stable

from ens_image_kit.stack import LocalStack


def _calls(stack: LocalStack) -> dict[str, int]:
    calls: dict[str, dict[str, int]] = stack.admin("GET", "calls")  # type: ignore[assignment]
    return {action: sum(codes.values()) for action, codes in calls.items()}


def memory(count: int, workdir: Path) -> None:
    with LocalStack(workdir, operator_env={"ENS_OPERATOR_SLOW_POLL_INTERVAL": "20"}) as stack:
        image_id = asyncio.run(available_image(stack))
        asyncio.run(create_stable(stack, count, image_id=image_id))
        before = _calls(stack)
        stack.start_operator()
        assert stack.operator is not None
        process = psutil.Process(stack.operator.process.pid)
        for second in range(301):
            if second % 30 == 0:
                print(f"t={second:3d}s RSS {process.memory_info().rss / 2**20:6.1f} MiB", flush=True)
            time.sleep(1)
        after = _calls(stack)
        print(f"{count} stable EnsImages; ENS calls in 300 s: {_difference(before, after)}")


def polling(count: int, workdir: Path) -> None:
    env = {"ENS_OPERATOR_QPS": "100"}
    with LocalStack(workdir, step_seconds=3.0, fast_poll_interval=1.0, operator_env=env) as stack:
        stack.start_operator()
        base, headers = api(stack)
        before = _calls(stack)
        started = time.monotonic()
        source = {"oss": {"bucket": "images", "object": "web.qcow2", "region": "cn-beijing"}}
        with httpx.Client(headers=headers, timeout=60) as http:
            for index in range(count):
                body = {
                    "apiVersion": GROUP_VERSION,
                    "kind": "EnsImage",
                    "metadata": {"name": f"import-{index}"},
                }
                http.post(base, json={**body, "spec": {"source": source}}).raise_for_status()
            while _ready(http.get(base).json()["items"]) < count:
                time.sleep(0.5)
        elapsed = time.monotonic() - started
        calls = _difference(before, _calls(stack))
        per_cycle = calls.get("DescribeSelfImages", 0) / elapsed
        print(f"{count} imports Ready in {elapsed:.1f} s (1 s poll cycles); ENS calls: {calls}")
        print(f"DescribeSelfImages per cycle: {per_cycle:.1f} (ceil({count}/50) = {-(-count // 50)})")


def _ready(items: list[dict[str, Any]]) -> int:
    def ready(item: dict[str, Any]) -> bool:
        conditions = (item.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    return sum(1 for item in items if ready(item))


def _difference(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {action: total - before.get(action, 0) for action, total in after.items()}


if __name__ == "__main__":
    what, number = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        {"memory": memory, "polling": polling}[what](number, Path(folder))
