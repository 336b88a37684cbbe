"""P6 cold start: N adoptions applied at once until all Ready; then an operator restart over N Ready objects.

The emulator's account is pre-filled with N Available images (written straight into its state file,
as P1b does). With the operator running at its default settings, N EnsImages adopting those images
by ``spec.imageId`` are created as fast as the local API takes them (16 concurrent clients). A watch
records when each object is first seen Ready; the operator's RSS is sampled (psutil) and every ENS
call is read from the emulator's call log (counters cleared just before the apply).
Goal: all Ready in ≤ 60 s, RSS ≤ 150 MiB.

Then the operator is stopped (SIGTERM) and started again over the N Ready objects, the emulator's
counters cleared in between. A restart writes nothing for a stable object (no status field or
condition is refreshed by a pass that finds nothing changed), so "re-verified" is read from the
cloud side: an object counts as re-verified once a DescribeSelfImages answer made after the restart
covered its image, as a lookup by its ImageId or as a page of the full listing (a page of size s
covers s images; all ceil(A/s) pages cover the account). Measured: seconds until all N are
covered (or that they never are within the window), the ENS calls in the window, RSS, and the
status writes the restart made (objects whose resourceVersion moved). Goal: ≤ 30 s, ENS calls ≤
ceil(A/50) + 2, RSS ≤ 150 MiB. A second restart with a short drift-check interval
(``--drift-slow``) shows what the drift check, the only pass that looks at stable objects, costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from bench.common import (
    BenchStack,
    Emulator,
    Kube,
    add_kube_argument,
    call_kinds,
    ens_image,
    is_ready,
    parse_sizes,
    percentile,
    result_name,
    run,
    save,
    save_plot,
    show,
    used_between,
)
from bench.p1b_big_account import seed_state, seeded_stack

from ens_image_operator.settings import Settings

NAMESPACE = "p6"
READY_GOAL_S = 60.0
REVERIFY_GOAL_S = 30.0
RSS_GOAL_MIB = 150.0
MIB = 2**20


def calls_goal(account: int) -> int:
    return math.ceil(account / 50) + 2


class Sampler:
    """Background samples of the operator's RSS and of the emulator's call log (deduplicated)."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.rss: list[tuple[float, float]] = []  # (monotonic, MiB)
        self.calls: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._rss()), asyncio.create_task(self._log())]

    async def stop(self) -> None:
        await self._read_log_once()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _rss(self) -> None:
        while True:
            operator = self.stack.operator
            if operator is not None:
                with contextlib.suppress(psutil.Error):
                    rss = psutil.Process(operator.process.pid).memory_info().rss / MIB
                    self.rss.append((time.monotonic(), rss))
            await asyncio.sleep(0.25)

    async def _read_log_once(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.admin_url, timeout=30) as admin:
            response = await admin.get("/calls/log")
            response.raise_for_status()
            for entry in response.json():
                key = (entry["monotonic"], entry["action"], json.dumps(entry["params"], sort_keys=True))
                self.calls[key] = entry

    async def _log(self) -> None:
        # The log keeps the last 2000 calls; read often enough that none is lost in between.
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await self._read_log_once()
            await asyncio.sleep(1.0)

    def rss_max(self, since: float = 0.0) -> float:
        return max((mib for t, mib in self.rss if t >= since), default=0.0)

    def entries(self, since: float = 0.0) -> list[dict[str, Any]]:
        return sorted(
            (e for e in self.calls.values() if e["monotonic"] >= since), key=lambda e: e["monotonic"]
        )


def coverage(entries: list[dict[str, Any]], account: int) -> list[tuple[float, int]]:
    """``(monotonic, images covered so far)`` after each successful DescribeSelfImages answer."""
    looked_up: set[str] = set()
    pages: dict[int, int] = {}
    curve = []
    for entry in entries:
        if entry["action"] != "DescribeSelfImages" or entry["code"] != "OK":
            continue
        params = entry["params"]
        if params.get("ImageId"):
            looked_up.add(str(params["ImageId"]))
        else:
            pages[int(params.get("PageNumber") or 1)] = int(params.get("PageSize") or 10)
        curve.append((entry["monotonic"], min(account, len(looked_up) + sum(pages.values()))))
    return curve


async def watch_ready(kube: Kube, since: str | None, state: dict[str, Any]) -> None:
    """Record first-Ready times, writes and any Ready≠True seen by a watch, forever."""

    def on_event(kind: str, body: dict[str, Any]) -> bool:
        name = str(body["metadata"]["name"])
        now = time.monotonic()
        if kind == "DELETED":
            return False
        state["events"] += 1
        if kind == "MODIFIED":
            state["modified"].add(name)
        if is_ready(body):
            state["ready_at"].setdefault(name, now)
            state["not_ready"].discard(name)
        elif name in state["ready_at"]:
            state["not_ready"].add(name)
            state["flapped"].add(name)
        return False

    await kube.watch("EnsImage", NAMESPACE, on_event, since=since)


def new_watch_state() -> dict[str, Any]:
    return {"ready_at": {}, "modified": set(), "not_ready": set(), "flapped": set(), "events": 0}


async def list_rv(kube: Kube) -> tuple[dict[str, str], str | None, int]:
    async with kube.client() as http:
        response = await http.get(f"/apis/ens.image-operator.io/v1alpha1/namespaces/{NAMESPACE}/ensimages")
        response.raise_for_status()
        document = response.json()
    items = document["items"]
    versions = {str(i["metadata"]["name"]): str(i["metadata"]["resourceVersion"]) for i in items}
    return versions, document.get("metadata", {}).get("resourceVersion"), sum(1 for i in items if is_ready(i))


async def apply_phase(stack: BenchStack, ids: list[str], within: float) -> dict[str, Any]:
    n = len(ids)
    emulator = Emulator(stack.admin_url)
    kube = stack.kube(workers=16)
    await kube.namespace(NAMESPACE)
    state = new_watch_state()
    watcher = asyncio.create_task(watch_ready(kube, None, state))
    await asyncio.sleep(0.5)
    emulator.delete("/calls")
    sampler = Sampler(stack)
    sampler.start()
    bodies = [ens_image(f"adopt-{i:05d}", imageId=image_id) for i, image_id in enumerate(ids)]
    cpu_before = stack.cpu_seconds()
    start = time.monotonic()
    created_task = asyncio.create_task(kube.create_many(NAMESPACE, bodies))
    curve: list[tuple[float, int]] = []
    deadline = start + within
    while time.monotonic() < deadline:
        curve.append((round(time.monotonic() - start, 2), len(state["ready_at"])))
        if len(state["ready_at"]) >= n:
            break
        await asyncio.sleep(0.5)
    cpu = used_between(cpu_before, stack.cpu_seconds())
    created = await created_task
    applied_s = max(after for _, after in created.values()) - start
    await asyncio.sleep(2.0)  # the last passes' calls reach the log
    await sampler.stop()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    _, _, ready_listed = await list_rv(kube)
    ready_at = state["ready_at"]
    to_ready = [ready_at[name] - created[name][1] for name in created if name in ready_at]
    entries = sampler.entries(start)
    last_call = entries[-1]["monotonic"] - start if entries else None
    all_ready_s = max(ready_at.values()) - start if len(ready_at) >= n else None
    return {
        "n": n,
        "ready": len(ready_at),
        "ready_listed_at_end": ready_listed,
        "applied_s": round(applied_s, 2),
        "all_ready_s": round(all_ready_s, 2) if all_ready_s is not None else None,
        "time_to_ready_p50_s": round(percentile(to_ready, 0.5), 2) if to_ready else None,
        "time_to_ready_p99_s": round(percentile(to_ready, 0.99), 2) if to_ready else None,
        "time_to_ready_max_s": round(max(to_ready), 2) if to_ready else None,
        "ens_calls": len(entries),
        "calls_by_kind": call_kinds(entries),
        "last_call_s": round(last_call, 2) if last_call is not None else None,
        "rss_max_mib": round(sampler.rss_max(), 1),
        "cpu_s_until_all_ready": cpu,
        "curve": curve,
        "goal_met": all_ready_s is not None
        and all_ready_s <= READY_GOAL_S
        and sampler.rss_max() <= RSS_GOAL_MIB,
    }


async def restart_phase(stack: BenchStack, n: int, window: float, env: dict[str, str]) -> dict[str, Any]:
    emulator = Emulator(stack.admin_url)
    kube = stack.kube()
    stopped = time.monotonic()
    stack.stop_operator()
    stop_s = time.monotonic() - stopped
    versions, list_version, ready_before = await list_rv(kube)
    state = new_watch_state()
    watcher = asyncio.create_task(watch_ready(kube, list_version, state))
    await asyncio.sleep(0.5)
    emulator.delete("/calls")
    sampler = Sampler(stack)
    cpu_before = {k: v for k, v in stack.cpu_seconds().items() if k != "operator"}
    start = time.monotonic()
    sampler.start()
    await asyncio.to_thread(stack.start_operator, (), env, True)
    live_s = time.monotonic() - start
    await asyncio.sleep(max(0.0, start + window - time.monotonic()))
    cpu = used_between({"operator": 0.0, **cpu_before}, stack.cpu_seconds())
    await sampler.stop()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    after, _, ready_after = await list_rv(kube)
    entries = sampler.entries(start)
    curve = coverage(entries, n)
    covered_at = next((t - start for t, covered in curve if covered >= n), None)
    times = [e["monotonic"] - start for e in entries]
    until = sum(1 for t in times if covered_at is not None and t <= covered_at)
    return {
        "n": n,
        "env": env,
        "window_s": window,
        "stop_s": round(stop_s, 2),
        "live_s": round(live_s, 2),
        "ready_before": ready_before,
        "ready_after": ready_after,
        "flapped": len(state["flapped"]),
        "status_writes": sum(1 for name, rv in after.items() if versions.get(name) != rv),
        "ens_calls": len(entries),
        "calls_by_kind": call_kinds(entries),
        "calls_until_reverified": until if covered_at is not None else None,
        "calls_goal": calls_goal(n),
        "cpu_s_in_window": cpu,
        "first_call_s": round(times[0], 2) if times else None,
        "last_call_s": round(times[-1], 2) if times else None,
        "covered_max": max((c for _, c in curve), default=0),
        "reverified_s": round(covered_at, 2) if covered_at is not None else None,
        "coverage_curve": [(round(t - start, 2), c) for t, c in curve],
        "rss_max_mib": round(sampler.rss_max(), 1),
        "goal_met": covered_at is not None
        and covered_at <= REVERIFY_GOAL_S
        and until <= calls_goal(n)
        and sampler.rss_max() <= RSS_GOAL_MIB,
    }


def log_summary(path: Path) -> dict[str, Any]:
    """Counts of the operator log's warnings and errors, by their first words."""
    if not path.exists():
        return {}
    kinds: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        match = re.search(r"\b(WARNING|ERROR|CRITICAL)\b\s*(.{0,60})", line)
        if match:
            words = re.sub(r"[0-9a-f-]{8,}|\d+", "#", match.group(2))
            kinds[f"{match.group(1)} {words}"] += 1
    return dict(kinds.most_common(15))


def measure(seed: Path, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    n = len(ids)
    env: dict[str, str] = {"ENS_OPERATOR_LOG_LEVEL": args.log_level}
    if args.apply_qps or args.qps:
        env["ENS_OPERATOR_QPS"] = str(args.apply_qps or args.qps)
    # The restarts run at --qps, else the operator's default (a raised --apply-qps is set-up only).
    again = {"ENS_OPERATOR_QPS": str(args.qps)} if args.qps else {}
    if args.apply_qps and not args.qps:
        again = {"ENS_OPERATOR_QPS": str(Settings.model_fields["qps"].default)}
    with seeded_stack(seed, args.fast_poll, env, kube=args.kube) as stack:
        started = time.monotonic()
        apply = run(apply_phase(stack, ids, within=args.within))
        took = time.monotonic() - started
        print(f"N={n}: apply phase {took:.0f} s, all Ready at {apply['all_ready_s']} s", flush=True)
        logs = {"apply": log_summary(stack.operator_log)}
        restarts = [run(restart_phase(stack, n, args.window, again))]
        if args.drift_slow:
            slow = {**again, "ENS_OPERATOR_SLOW_POLL_INTERVAL": str(args.drift_slow)}
            restarts.append(run(restart_phase(stack, n, args.drift_slow + args.window, slow)))
        logs["all"] = log_summary(stack.operator_log)
    return {"n": n, "apply": apply, "restarts": restarts, "log_warnings": logs}


def operator_source() -> str:
    """Where ``ens_image_operator`` is imported from: this work tree, or another copy (PYTHONPATH)."""
    spec = importlib.util.find_spec("ens_image_operator")
    if not spec or not spec.origin:
        return ""
    source = Path(spec.origin).parents[1]
    repo = Path(__file__).resolve().parents[1]
    return "this work tree" if source.resolve() == (repo / "operator").resolve() else "a copy on PYTHONPATH"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench p6", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=parse_sizes, default=[1000, 5000], help="adoptions (= images in account)")
    parser.add_argument("--fast-poll", type=float, default=5.0, help="operator fast-poll interval (s)")
    parser.add_argument("--qps", type=float, default=None, help="operator ENS QPS (default: its own, 10)")
    parser.add_argument(
        "--apply-qps", type=float, default=None, help="operator ENS QPS during the apply only (set-up)"
    )
    parser.add_argument("--name", default=None, help="results file name (default p6_cold_start[_real])")
    parser.add_argument("--within", type=float, default=180.0, help="longest wait for all Ready (s)")
    parser.add_argument("--window", type=float, default=40.0, help="observation after a restart (s)")
    parser.add_argument(
        "--drift-slow", type=float, default=15.0, help="second restart's drift-check interval (s); 0: none"
    )
    parser.add_argument("--log-level", default="INFO", help="operator log level")
    parser.add_argument("--note", default="", help="a note kept in the JSON (e.g. which code ran)")
    parser.add_argument("--quick", action="store_true", help="N = 1000, no second restart")
    add_kube_argument(parser)
    args = parser.parse_args(argv)
    args.name = args.name or result_name("p6_cold_start", args.kube)
    if args.quick:
        args.n, args.drift_slow = [1000], 0.0

    results = []
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="ens-bench-seed-") as folder:
            seed = Path(folder) / "seed.db"
            ids = seed_state(seed, n)
            results.append(measure(seed, ids, args))

    show(
        f"P6 cold start ({args.kube} API): N adoptions applied at once "
        f"(operator defaults, fast poll {args.fast_poll:g} s)",
        ["N", "all Ready (s)", "p50 (s)", "p99 (s)", "ENS calls", "calls by kind", "RSS max (MiB)", "met"],
        [
            [
                r["n"],
                r["apply"]["all_ready_s"] or f"not in {args.within:g} ({r['apply']['ready']} Ready)",
                r["apply"]["time_to_ready_p50_s"],
                r["apply"]["time_to_ready_p99_s"],
                r["apply"]["ens_calls"],
                ", ".join(f"{k}: {v}" for k, v in r["apply"]["calls_by_kind"].items()),
                r["apply"]["rss_max_mib"],
                "yes" if r["apply"]["goal_met"] else "NO",
            ]
            for r in results
        ],
    )
    show(
        "P6 restart over N Ready objects (re-verified = every image covered by a DescribeSelfImages "
        "answer after the restart)",
        [
            "N",
            "drift interval",
            "live (s)",
            "re-verified (s)",
            "ENS calls in window",
            "goal ≤",
            "calls by kind",
            "last call (s)",
            "status writes",
            "RSS max",
            "met",
        ],
        [
            [
                r["n"],
                s["env"].get("ENS_OPERATOR_SLOW_POLL_INTERVAL", "default"),
                s["live_s"],
                s["reverified_s"] if s["reverified_s"] is not None else f"never in {s['window_s']:g} s",
                f"{s['ens_calls']} ({s['calls_until_reverified']} until re-verified)"
                if s["calls_until_reverified"] is not None
                else s["ens_calls"],
                s["calls_goal"],
                ", ".join(f"{k}: {v}" for k, v in s["calls_by_kind"].items()) or "-",
                s["last_call_s"] if s["last_call_s"] is not None else "-",
                s["status_writes"],
                s["rss_max_mib"],
                "yes" if s["goal_met"] else "NO",
            ]
            for r in results
            for s in r["restarts"]
        ],
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=100)
    for r in results:
        xs, ys = zip(*r["apply"]["curve"], strict=True) if r["apply"]["curve"] else ((), ())
        left.plot(xs, [y / r["n"] * 100 for y in ys], label=f"N = {r['n']}")
        for s in r["restarts"]:
            label = s["env"].get("ENS_OPERATOR_SLOW_POLL_INTERVAL", "default")
            if s["ready_before"] < r["n"]:
                label += f", only {s['ready_before']} Ready"
            if not s["coverage_curve"]:
                right.plot([0, s["window_s"]], [0, 0], label=f"N = {r['n']}, drift {label}: no ENS call")
            else:
                cx, cy = zip(*s["coverage_curve"], strict=True)
                percent = [y / r["n"] * 100 for y in cy]
                right.step(cx, percent, where="post", label=f"N = {r['n']}, drift {label}")
    left.axvline(READY_GOAL_S, color="k", linestyle="--", label="goal 60 s")
    left.set_xlabel("seconds since the apply started")
    left.set_ylabel("% of objects Ready")
    left.set_title(f"P6 ({args.kube} API): adoptions applied at once")
    left.legend()
    right.axvline(REVERIFY_GOAL_S, color="k", linestyle="--", label="goal 30 s")
    right.set_xlabel("seconds since the operator was started again")
    right.set_ylabel("% of images covered by a DescribeSelfImages answer")
    right.set_title(f"P6 ({args.kube} API): restart over Ready objects")
    right.set_ylim(-2, 102)
    right.legend(fontsize=8)
    save_plot(fig, args.name)
    save(
        args.name,
        {
            "kube": args.kube,
            "fast_poll_s": args.fast_poll,
            "qps": args.qps,
            "apply_qps": args.apply_qps,
            # The operator code the children ran (PYTHONPATH may point at a copy of another commit).
            "operator_source": operator_source(),
            "note": args.note,
            "results": results,
            "goal_met": all(r["apply"]["goal_met"] and r["restarts"][0]["goal_met"] for r in results),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
