"""P4 memory: the operator's resident set with 100, 1000 and 5000 EnsImages, all Available and stable.

Images are seeded in the emulator (imported with a zero step, so they are Available at once) and
adopted by id, the cheapest way to get many stable objects. The counts are reached one after the
other in one operator process; at each, once every object is Ready, RSS (psutil, the operator's
pid) is sampled for a while and the largest sample kept. Goal: ≤ 150 MiB at 5000.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import psutil  # type: ignore[import-untyped]
from bench.common import (
    BenchStack,
    add_kube_argument,
    all_ready,
    ens_image,
    figure,
    local_stack,
    parse_sizes,
    result_name,
    run,
    save,
    save_plot,
    seed_images,
    show,
)

NAMESPACE = "p4"
GOAL_MIB = 150.0
MIB = 2**20


def rss_mib(pid: int) -> float:
    rss: int = psutil.Process(pid).memory_info().rss
    return rss / MIB


async def sample(pid: int, seconds: float) -> float:
    """The largest RSS over ``seconds`` (a timer or a drift check may allocate transiently)."""
    peak = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, rss_mib(pid))
        await asyncio.sleep(0.25)
    return peak


async def measure(stack: BenchStack, sizes: list[int], settle: float) -> list[dict[str, Any]]:
    assert stack.operator is not None
    pid = stack.operator.process.pid
    kube = stack.kube()
    await kube.namespace(NAMESPACE)
    image_ids = await seed_images(stack, max(sizes), "p4")
    rows = [{"objects": 0, "rss_mib": round(await sample(pid, settle), 1), "setup_s": 0.0}]
    have = 0
    for size in sizes:
        started = time.monotonic()
        bodies = [ens_image(f"img-{i:05d}", imageId=image_ids[i]) for i in range(have, size)]
        await kube.create_many(NAMESPACE, bodies)
        await kube.wait_until(
            "EnsImage", NAMESPACE, all_ready(size), within=120 + size * 0.2, what=f"{size} Ready", every=2.0
        )
        setup = time.monotonic() - started
        have = size
        rows.append(
            {"objects": size, "rss_mib": round(await sample(pid, settle), 1), "setup_s": round(setup, 1)}
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench p4", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=parse_sizes, default=[100, 1000, 5000], help="object counts, ascending")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds RSS is sampled at each count")
    parser.add_argument("--quick", action="store_true", help="counts 100,1000")
    add_kube_argument(parser)
    args = parser.parse_args(argv)
    sizes = [100, 1000] if args.quick else sorted(args.n)
    name = result_name("p4_memory", args.kube)

    with local_stack(step_seconds=0, fast_poll=5.0, kube=args.kube) as stack:
        rows = run(measure(stack, sizes, args.settle))

    base = rows[0]["rss_mib"]
    for row in rows:
        extra = row["rss_mib"] - base
        row["kib_per_object"] = round(extra * 1024 / row["objects"], 1) if row["objects"] else None
    top = rows[-1]
    met = top["rss_mib"] <= GOAL_MIB
    show(
        f"P4 ({args.kube} API): operator RSS with every EnsImage Available and stable",
        ["objects", "RSS (MiB)", "KiB per object over empty", "time to all Ready (s)"],
        [[r["objects"], r["rss_mib"], r["kib_per_object"] or "-", r["setup_s"]] for r in rows],
    )
    fig, axes = figure()
    axes.plot([r["objects"] for r in rows], [r["rss_mib"] for r in rows], "o-", label="operator RSS")
    axes.axhline(GOAL_MIB, color="k", linestyle="--", label=f"goal at 5000: {GOAL_MIB:g} MiB")
    axes.set_xlabel("EnsImages (adopted, Available)")
    axes.set_ylabel("RSS (MiB)")
    axes.set_ylim(bottom=0)
    axes.set_title(f"P4 ({args.kube} API): operator memory")
    axes.legend()
    save_plot(fig, name)
    save(
        name,
        {"kube": args.kube, "rows": rows, "goal_mib": GOAL_MIB, "goal_met": met and top["objects"] >= 5000},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
