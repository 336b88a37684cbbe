"""P1 poll efficiency: ENS calls per fast-poll cycle with N imports in flight, beside a per-resource poller.

The emulator's step is made very long, so every import stays ``Creating`` and every object keeps
its fast timer. Once all N ImportImage calls are in, the emulator's counters are cleared and read
again after several cycles. The baseline is a small poller written here that asks DescribeSelfImages
for one ImageId per object per cycle, run against the same emulator for the same number of cycles
with the operator stopped. Goal at N = 1000: at most ceil(N/50) + 2 calls per cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from bench.common import (
    BenchStack,
    Emulator,
    ens_image,
    figure,
    local_stack,
    oss_source,
    parse_sizes,
    run,
    save,
    save_plot,
    show,
    total_calls,
)

from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET

NAMESPACE = "p1"
FOREVER = 10**6  # emulator step: no import finishes while we count


def goal(n: int) -> int:
    return math.ceil(n / 50) + 2


async def per_resource_poller(url: str, image_ids: list[str], cycles: int, period: float) -> int:
    """One DescribeSelfImages(ImageId=…) per object per cycle; returns the cycles it completed."""
    from ens_image_operator.ens.client import EnsClient
    from ens_image_operator.ens.credentials import StaticCredentials
    from ens_image_operator.ens.ratelimit import RateLimiter

    async with EnsClient(
        StaticCredentials(DEFAULT_KEY_ID, DEFAULT_KEY_SECRET),
        endpoint=url,
        limiter=RateLimiter(qps=1e9, burst=1_000_000),
    ) as ens:
        semaphore = asyncio.Semaphore(16)

        async def poll(image_id: str) -> None:
            async with semaphore:
                await ens.describe_self_images(image_id=image_id)

        for _ in range(cycles):
            started = time.monotonic()
            await asyncio.gather(*(poll(image_id) for image_id in image_ids))
            await asyncio.sleep(max(0.0, started + period - time.monotonic()))
    return cycles


async def measure_one(stack: BenchStack, n: int, cycles: int, fast: float, within: float) -> dict[str, Any]:
    emulator = Emulator(stack.admin_url)
    kube = stack.kube()
    namespace = f"{NAMESPACE}-{n}"
    await kube.namespace(namespace)
    bodies = [ens_image(f"img-{i:05d}", source=oss_source(f"p1-{n}-{i}.qcow2")) for i in range(n)]
    started = time.monotonic()
    await kube.create_many(namespace, bodies)

    def importing(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if (item.get("status") or {}).get("imageId")]

    items, complete = await kube.settle(
        "EnsImage", namespace, lambda items: len(importing(items)) >= n, within=within
    )
    items = importing(items)
    settled = time.monotonic() - started
    await asyncio.sleep(2 * fast)  # let the last creates' own passes finish
    emulator.delete("/calls")
    window_start = time.monotonic()
    await asyncio.sleep(cycles * fast)
    counts = emulator.calls()
    window = time.monotonic() - window_start
    operator_calls = total_calls(counts)
    live = len([image for image in emulator.images() if not image.get("DeletedAt")])
    stack.stop_operator()

    image_ids = [str(item["status"]["imageId"]) for item in items]
    emulator.delete("/calls")
    baseline_start = time.monotonic()
    done = await per_resource_poller(stack.emulator_url, image_ids, cycles, fast)
    baseline_window = time.monotonic() - baseline_start
    baseline_calls = total_calls(emulator.calls())
    return {
        "n": n,
        "in_flight": len(items),
        "setup_complete": complete,
        "images_in_account": live,
        "cycles": cycles,
        "window_s": round(window, 2),
        "operator_calls": operator_calls,
        "operator_calls_by_action": {action: sum(codes.values()) for action, codes in counts.items()},
        "operator_per_cycle": round(operator_calls / cycles, 2),
        "baseline_calls": baseline_calls,
        "baseline_per_cycle": round(baseline_calls / done, 2),
        "baseline_window_s": round(baseline_window, 2),
        "goal_per_cycle": goal(live),
        "setup_s": round(settled, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench p1", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=parse_sizes, default=[10, 100, 1000], help="images in flight, e.g. 10,100"
    )
    parser.add_argument("--cycles", type=int, default=5, help="fast-poll cycles counted")
    parser.add_argument("--fast-poll", type=float, default=2.0, help="operator fast-poll interval (s)")
    parser.add_argument("--quick", action="store_true", help="N = 10,100 and 3 cycles")
    args = parser.parse_args(argv)
    sizes, cycles = ([10, 100], 3) if args.quick else (args.n, args.cycles)

    rows: list[dict[str, Any]] = []
    # Raise the client's rate limit so that setting up 1000 imports does not take minutes; polling
    # itself needs far less than the default 10 calls/s, which is what this benchmark shows.
    env = {"ENS_OPERATOR_QPS": "200"}
    for n in sizes:  # a fresh stack per N: the account holds exactly the N images in flight
        with local_stack(step_seconds=FOREVER, fast_poll=args.fast_poll, operator_env=env) as stack:
            rows.append(run(measure_one(stack, n, cycles, args.fast_poll, within=60 + n * 0.25)))

    show(
        f"P1: ENS calls per fast-poll cycle ({args.fast_poll:g} s), imports in flight",
        [
            "N created",
            "in flight",
            "images in account",
            "operator/cycle",
            "per-resource/cycle",
            "goal ≤",
            "met",
        ],
        [
            [
                r["n"],
                r["in_flight"] if r["setup_complete"] else f"{r['in_flight']} (set-up timed out)",
                r["images_in_account"],
                r["operator_per_cycle"],
                r["baseline_per_cycle"],
                r["goal_per_cycle"],
                "yes" if r["operator_per_cycle"] <= r["goal_per_cycle"] else "NO",
            ]
            for r in rows
        ],
    )
    fig, axes = figure()
    xs = [r["in_flight"] for r in rows]
    axes.plot(xs, [r["baseline_per_cycle"] for r in rows], "o-", label="per-resource poller")
    axes.plot(xs, [r["operator_per_cycle"] for r in rows], "o-", label="operator (shared snapshot)")
    axes.plot(xs, [r["goal_per_cycle"] for r in rows], "k--", label="goal: ceil(images/50) + 2")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("EnsImages in flight")
    axes.set_ylabel("ENS calls per poll cycle")
    axes.set_title("P1: poll efficiency")
    axes.legend()
    save_plot(fig, "p1_poll")
    at_max = rows[-1]
    save(
        "p1_poll",
        {
            "fast_poll_s": args.fast_poll,
            "rows": rows,
            "goal_met": at_max["setup_complete"] and at_max["operator_per_cycle"] <= at_max["goal_per_cycle"],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
