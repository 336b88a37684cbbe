"""P3 create latency: a burst of EnsImages, time from each object's creation to its ImportImage.

The objects are created with a few concurrent clients; an object's creation time is the monotonic
time its 201 came back. The emulator's call log holds the monotonic time each ImportImage arrived,
and its ImageName names the object. The burst runs once per client rate limit given (the
operator's default of 10 calls/s first), to show how much of the latency is the limiter.
ImportImage has no documented quota of its own, so it runs at the ``qps`` setting. Goal for N
objects at an ImportImage rate of R calls/s: p99 ≤ ceil(N / R) + 2 s, and ≤ 5 s with the limit
lifted (whichever is larger).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from typing import Any

from bench.common import (
    BenchStack,
    Emulator,
    add_kube_argument,
    ens_image,
    figure,
    local_stack,
    oss_source,
    percentile,
    result_name,
    run,
    save,
    save_plot,
    show,
)

FOREVER = 10**6
LIFTED_GOAL_P99 = 5.0


def goal_p99(n: int, import_rate: float) -> float:
    """The p99 a burst of ``n`` can reach when ImportImage may be called ``import_rate`` times a second."""
    return max(LIFTED_GOAL_P99, math.ceil(n / import_rate) + 2.0)


async def burst(stack: BenchStack, n: int, namespace: str, within: float) -> dict[str, Any]:
    emulator = Emulator(stack.admin_url)
    kube = stack.kube()
    await kube.namespace(namespace)
    emulator.delete("/calls")
    bodies = [
        ens_image(f"{namespace}-{i:05d}", source=oss_source(f"{namespace}-{i}.qcow2")) for i in range(n)
    ]
    started = time.monotonic()
    created = await kube.create_many(namespace, bodies)
    created_s = time.monotonic() - started
    deadline = time.monotonic() + within
    while True:
        imports = emulator.call_log("ImportImage")
        ours = {entry["params"].get("ImageName"): entry for entry in imports if entry["code"] == "OK"}
        if len(set(ours) & set(created)) >= n or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    # An object whose import never came within the window is counted as missing, not timed.
    latencies = [ours[name]["monotonic"] - after for name, (_, after) in created.items() if name in ours]
    arrivals = sorted(entry["monotonic"] for entry in ours.values())
    return {
        "n": n,
        "missing_after_s": None if len(latencies) == n else round(within),
        "missing": n - len(latencies),
        "create_burst_s": round(created_s, 2),
        "p50_s": round(statistics.median(latencies), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
        "max_s": round(max(latencies), 3),
        "imports_per_s": round(len(arrivals) / (arrivals[-1] - arrivals[0]), 1)
        if len(arrivals) > 1
        else None,
        "latencies": sorted(round(latency, 3) for latency in latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench p3", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="EnsImages in the burst")
    parser.add_argument(
        "--qps", type=lambda text: [float(q) for q in text.split(",")], default=[10.0, 1000.0],
        help="operator client rate limits to run the burst with (default 10,1000)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="N = 100")
    add_kube_argument(parser)
    args = parser.parse_args(argv)
    n = 100 if args.quick else args.n
    name = result_name("p3_create", args.kube)

    results: list[dict[str, Any]] = []
    for qps in args.qps:
        env = {"ENS_OPERATOR_QPS": f"{qps:g}"}
        with local_stack(step_seconds=FOREVER, fast_poll=5.0, operator_env=env, kube=args.kube) as stack:
            result = run(burst(stack, n, f"p3-q{int(qps)}", within=60 + n * 0.5))
        goal = goal_p99(n, qps)
        results.append(
            {
                "qps": qps,
                **result,
                "goal_p99_s": goal,
                "goal_met": not result["missing"] and result["p99_s"] <= goal,
            }
        )

    show(
        f"P3 ({args.kube} API): creation → ImportImage received, burst of {n}",
        ["client qps", "p50 (s)", "p99 (s)", "max (s)", "imports/s", "missing", "goal p99 (s)", "met"],
        [[r["qps"], r["p50_s"], r["p99_s"], r["max_s"], r["imports_per_s"], r["missing"],
          f"≤ {r['goal_p99_s']:g}", "yes" if r["goal_met"] else "NO"]
         for r in results],
    )  # fmt: skip
    fig, axes = figure()
    for r in results:
        lat = r["latencies"]
        axes.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], label=f"client limit {r['qps']:g}/s")
    for r in results:
        axes.axvline(r["goal_p99_s"], color="k", linestyle="--", label=f"p99 goal at {r['qps']:g}/s")
    axes.set_xscale("log")
    axes.set_xlabel("seconds from the object's creation to its ImportImage at ENS")
    axes.set_ylabel("fraction of objects")
    axes.set_title(f"P3 ({args.kube} API): create latency, burst of {n}")
    axes.legend()
    save_plot(fig, name)
    save(
        name, {"kube": args.kube, "rows": [{k: v for k, v in r.items() if k != "latencies"} for r in results]}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
