"""P1b poll cost in a big account: ENS calls per fast-poll cycle with k imports in flight among A images.

The emulator's account is pre-filled with ``--account`` Available images, written straight into its
state file (no ImportImage calls), and its step is made very long so the k imports stay
``Creating``. For each k a fresh stack (a copy of that state file) is started, the k imports
created, the counters cleared and read again after several cycles. Goal: calls per cycle ≤
min(k, ceil(A/50)) + 2. Before P1b every cycle listed the whole account: ceil(A/50) calls.

A second part measures the switch point in-process: one refresh of the operator's own snapshot
(``poller.ScopeSnapshots``, the operator's client) either as k lookups by ImageId, forced, or as the
full listing, counting calls and timing it without a rate limit and at the default 10 calls/s.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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

NAMESPACE = "p1b"
FOREVER = 10**6  # emulator step: no import finishes while we count


def goal(in_flight: int, account: int) -> int:
    return min(in_flight, math.ceil(account / 50)) + 2


def seed_state(path: Path, count: int) -> list[str]:
    """A state file holding ``count`` Available images of the default account; their ids."""
    from ens_image_kit.emulator.images import DiskSource
    from ens_image_kit.emulator.state import EmulatorState
    from ens_image_kit.emulator.store import SqliteStore

    store = SqliteStore(path)
    state = EmulatorState(keys={DEFAULT_KEY_ID: DEFAULT_KEY_SECRET}, step_seconds=0.0, store=store)
    db = store._db  # one transaction for all rows: thousands of commits would take minutes
    db.execute("BEGIN")
    ids = [
        state.create_image(f"seed-{i:05d}", [DiskSource("bench", f"seed-{i}.qcow2", "cn-beijing")]).image_id
        for i in range(count)
    ]
    db.execute("COMMIT")
    state.close()
    return ids


@contextmanager
def seeded_stack(
    seed: Path, fast_poll: float, env: dict[str, str], operator: bool = True, kube: str = "sandbox"
) -> Iterator[BenchStack]:
    """Emulator (on a copy of ``seed``) + a Kubernetes API (+ the operator), stopped after."""
    with local_stack(
        step_seconds=FOREVER,
        fast_poll=fast_poll,
        operator_env=env,
        with_operator=operator,
        state_file=seed,
        kube=kube,
    ) as stack:
        yield stack


async def measure_cycles(
    stack: BenchStack, k: int, cycles: int, fast: float, within: float
) -> dict[str, Any]:
    emulator = Emulator(stack.admin_url)
    kube = stack.kube()
    namespace = f"{NAMESPACE}-{k}"
    await kube.namespace(namespace)
    bodies = [ens_image(f"img-{i:05d}", source=oss_source(f"p1b-{k}-{i}.qcow2")) for i in range(k)]
    started = time.monotonic()
    await kube.create_many(namespace, bodies)

    def importing(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if (item.get("status") or {}).get("imageId")]

    items, complete = await kube.settle(
        "EnsImage", namespace, lambda items: len(importing(items)) >= k, within=within
    )
    settled = time.monotonic() - started
    await asyncio.sleep(2 * fast)  # let the last creates' own passes finish
    emulator.delete("/calls")
    window_start = time.monotonic()
    await asyncio.sleep(cycles * fast)
    counts = emulator.calls()
    window = time.monotonic() - window_start
    calls = total_calls(counts)
    live = len([image for image in emulator.images() if not image.get("DeletedAt")])
    return {
        "k": k,
        "in_flight": len(importing(items)),
        "setup_complete": complete,
        "images_in_account": live,
        "cycles": cycles,
        "window_s": round(window, 2),
        "calls": calls,
        "calls_by_action": {action: sum(codes.values()) for action, codes in counts.items()},
        "per_cycle": round(calls / cycles, 2),
        "full_listing_per_cycle": math.ceil(live / 50),
        "goal_per_cycle": goal(len(importing(items)), live),
        "setup_s": round(settled, 1),
    }


async def measure_switch(
    stack: BenchStack, ids: list[str], ks: list[int], qps: float | None, repeats: int
) -> list[dict[str, Any]]:
    """One refresh as k forced lookups by id, and as the full listing: calls and seconds each."""
    from ens_image_operator.ens.client import EnsClient
    from ens_image_operator.ens.credentials import StaticCredentials
    from ens_image_operator.ens.ratelimit import RateLimiter
    from ens_image_operator.poller import ScopeSnapshots

    emulator = Emulator(stack.admin_url)
    limiter = RateLimiter(qps=1e9, burst=1_000_000) if qps is None else RateLimiter(qps)
    rows: list[dict[str, Any]] = []
    async with EnsClient(
        StaticCredentials(DEFAULT_KEY_ID, DEFAULT_KEY_SECRET), endpoint=stack.emulator_url, limiter=limiter
    ) as ens:

        async def refresh(wanted: list[str] | None) -> tuple[int, float]:
            # Forced lookups (any k), else the full listing; max_age 0: every read refreshes.
            snapshots = ScopeSnapshots(ens, max_age=0.0, switch_ratio=1e9)
            await snapshots.self_images()  # learn the account size (a listing, not timed)
            # Forget that listing (the size stays learnt): it would answer settled images by itself.
            snapshots.invalidate()
            snapshots.want(wanted)
            await asyncio.sleep(0 if qps is None else 1.0)  # let the bucket refill (burst: 1 s of calls)
            emulator.delete("/calls")
            started = time.monotonic()
            seen = await snapshots.self_images()
            seconds = time.monotonic() - started
            assert wanted is None or len(seen) == len(wanted)
            return total_calls(emulator.calls()), seconds

        for k in [*ks, None]:
            samples = [await refresh(None if k is None else ids[:k]) for _ in range(repeats)]
            rows.append(
                {
                    "mode": "listing" if k is None else "lookups",
                    "k": k,
                    "qps": qps,
                    "calls": samples[0][0],
                    "seconds": round(statistics.median(s for _, s in samples), 3),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench p1b", description=__doc__.splitlines()[0])
    parser.add_argument("--account", type=int, default=5000, help="images pre-filled in the account")
    parser.add_argument("--k", type=parse_sizes, default=[1, 5, 20, 50, 100, 200], help="imports in flight")
    parser.add_argument("--cycles", type=int, default=5, help="fast-poll cycles counted")
    parser.add_argument("--fast-poll", type=float, default=2.0, help="operator fast-poll interval (s)")
    parser.add_argument(
        "--switch-k",
        type=parse_sizes,
        default=[1, 5, 20, 50, 80, 100, 120, 150, 200],
        help="k of the switch part",
    )
    parser.add_argument(
        "--limited-k", type=parse_sizes, default=[50, 100, 150], help="k of the switch part at 10 calls/s"
    )
    parser.add_argument("--quick", action="store_true", help="A = 2000, k = 1,5,50 and 3 cycles")
    args = parser.parse_args(argv)
    if args.quick:
        args.account, args.k, args.cycles = 2000, [1, 5, 50], 3
        args.switch_k, args.limited_k = [5, 20, 40, 60], [40]

    env = {"ENS_OPERATOR_QPS": "200"}  # setting up 200 imports quickly; polling needs far less
    rows: list[dict[str, Any]] = []
    switch: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ens-bench-seed-") as folder:
        seed = Path(folder) / "seed.db"
        started = time.monotonic()
        ids = seed_state(seed, args.account)
        seeded_s = time.monotonic() - started
        for k in args.k:  # a fresh stack per k, on a fresh copy of the seeded account
            with seeded_stack(seed, args.fast_poll, env) as stack:
                rows.append(run(measure_cycles(stack, k, args.cycles, args.fast_poll, within=60 + k * 0.25)))
        with seeded_stack(seed, args.fast_poll, env, operator=False) as stack:
            switch += run(measure_switch(stack, ids, args.switch_k, None, repeats=3))
            switch += run(measure_switch(stack, ids, args.limited_k, 10.0, repeats=1))

    show(
        f"P1b: ENS calls per fast-poll cycle ({args.fast_poll:g} s), k imports in flight, "
        f"{args.account} images pre-filled (seeded in {seeded_s:.1f} s)",
        ["k in flight", "images in account", "calls/cycle", "before: listing/cycle", "goal ≤", "met"],
        [
            [
                r["in_flight"] if r["setup_complete"] else f"{r['in_flight']} (set-up timed out)",
                r["images_in_account"],
                r["per_cycle"],
                r["full_listing_per_cycle"],
                r["goal_per_cycle"],
                "yes" if r["per_cycle"] <= r["goal_per_cycle"] else "NO",
            ]
            for r in rows
        ],
    )
    show(
        "P1b switch point: one refresh of the snapshot, forced lookups by id vs the full listing",
        ["mode", "k", "rate limit", "calls", "seconds (median)"],
        [
            [
                s["mode"],
                s["k"] if s["k"] is not None else "-",
                "none" if s["qps"] is None else f"{s['qps']:g}/s",
                s["calls"],
                s["seconds"],
            ]
            for s in switch
        ],
    )
    fig, axes = figure()
    xs = [r["in_flight"] for r in rows]
    axes.plot(xs, [r["full_listing_per_cycle"] for r in rows], "o-", label="before: full listing every cycle")
    axes.plot(xs, [r["per_cycle"] for r in rows], "o-", label="operator (lookups below the switch)")
    axes.plot(xs, [r["goal_per_cycle"] for r in rows], "k--", label="goal: min(k, ceil(A/50)) + 2")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(f"EnsImages in flight (account of {args.account} images)")
    axes.set_ylabel("ENS calls per poll cycle")
    axes.set_title("P1b: poll cost in a big account")
    axes.legend()
    save_plot(fig, "p1b_big_account")
    listing = next(s for s in switch if s["mode"] == "listing" and s["qps"] is None)
    slower = [
        s["k"]
        for s in switch
        if s["mode"] == "lookups" and s["qps"] is None and s["seconds"] > listing["seconds"]
    ]
    save(
        "p1b_big_account",
        {
            "account": args.account,
            "fast_poll_s": args.fast_poll,
            "seeded_s": round(seeded_s, 2),
            "rows": rows,
            "switch": switch,
            "lookups_slower_than_listing_from_k": min(slower) if slower else None,
            "goal_met": all(r["setup_complete"] and r["per_cycle"] <= r["goal_per_cycle"] for r in rows),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
