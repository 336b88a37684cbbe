"""P5 client: EnsClient calls/s against the emulator next to the official V3 SDK, in the same run.

The measuring is ``bench/client.py``'s; this wrapper runs it, keeps its figures, draws the plot and
writes them beside the other benchmarks' results. Goal: ≥ 5x the SDK's calls/s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from typing import Any

from bench import client
from bench.common import figure, save, save_plot, show

GOAL_RATIO = 5.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench p5", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="DescribeSelfImages calls per run")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks (ours) / threads (SDK)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client; the median is kept")
    parser.add_argument("--quick", action="store_true", help="500 calls, one run")
    args = parser.parse_args(argv)
    calls, repeat = (500, 1) if args.quick else (args.calls, args.repeat)

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        client.main(
            ["--calls", str(calls), "--concurrency", str(args.concurrency), "--repeat", str(repeat),
             "--signatures", str(2000 if args.quick else 20_000)]
        )  # fmt: skip
    figures: dict[str, Any] = json.loads(captured.getvalue().strip().splitlines()[-1])
    ratios = {
        mode: round(figures[f"ours_{mode}_cps"] / figures[f"sdk_{mode}_cps"], 2)
        for mode in ("sequential", "concurrent")
    }
    met = ratios["concurrent"] >= GOAL_RATIO
    show(
        f"P5: DescribeSelfImages calls/s against the emulator ({calls} calls, median of {repeat})",
        ["measure", "EnsClient", "official V3 SDK", "EnsClient speed-up", f"goal ≥ {GOAL_RATIO:g}x"],
        [
            ["calls/s, sequential", figures["ours_sequential_cps"], figures["sdk_sequential_cps"],
             f"{ratios['sequential']}x", "-"],
            [f"calls/s, {args.concurrency} tasks / threads", figures["ours_concurrent_cps"],
             figures["sdk_concurrent_cps"], f"{ratios['concurrent']}x", "yes" if met else "NO"],
            ["signing µs (mean)", figures["sign_ours_mean_us"], figures["sign_sdk_mean_us"],
             f"{round(figures['sign_sdk_mean_us'] / figures['sign_ours_mean_us'], 2)}x", "-"],
        ],
    )  # fmt: skip
    fig, axes = figure()
    modes = ["sequential", "concurrent"]
    xs = range(len(modes))
    axes.bar([x - 0.2 for x in xs], [figures[f"ours_{m}_cps"] for m in modes], 0.4, label="EnsClient")
    axes.bar([x + 0.2 for x in xs], [figures[f"sdk_{m}_cps"] for m in modes], 0.4, label="official V3 SDK")
    axes.set_xticks(list(xs), ["sequential", f"{args.concurrency} concurrent"])
    axes.set_ylabel("DescribeSelfImages calls/s")
    axes.set_title("P5: client throughput against the emulator")
    axes.legend()
    save_plot(fig, "p5_client")
    save("p5_client", {**figures, "ratio": ratios, "goal_ratio": GOAL_RATIO, "goal_met": met})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
