"""P8 idle cost: operator CPU with N stable objects and nothing in flight, and the calls it makes then.

The emulator's account is pre-filled with N Available images (its state file, as P1b and P6 do) and
N EnsImages adopting them by ``spec.imageId`` are created; the operator sets them up with a raised
ENS rate limit (``--setup-qps``, set-up only). Once all are Ready the operator is restarted at its
defaults (only ``--slow-poll``, the drift-check interval, is set; ``--no-restart`` keeps the set-up
process instead), waits until its gauges count N Ready EnsImages, and then ``--settle`` seconds.

Over the ``--seconds`` window that follows: the operator's CPU (utime + stime of the process and of
its children, from /proc, sampled every second; CPU % of one core per ``--bucket``), every ENS call
(the emulator's call log, counters cleared at the window's start), every Kubernetes request the
operator sends (through a counting TCP relay that its kubeconfig points at), its reconcile passes
and writes (its own metrics, scraped outside the CPU window). ``--profile`` records a flame graph of
the operator over the window with native frames (``bench/results/p8_idle_flame.svg``). py-spy
pauses the operator for each sample, which roughly doubled its idle CPU at 5000 (0.65 → 1.25 %), and
in native mode it keeps threads blocked in a wait (executor workers in a lock, the metrics server in
poll, the loop in epoll_wait) as samples: read the frames beside those.

Goal: ≤ 2 % of one core averaged over 5 minutes with 5000 objects, and no ENS call beyond the
drift check's schedule. A drift check starts no earlier than one slow interval after the scheduler
starts (about when the operator starts) and then at least one slow interval after the previous
one; each costs at most one full listing, ceil(N/50) pages. So a window of W s ending T s after the
operator started can hold at most min(floor((W + L)/slow) + 1, floor(T/slow)) checks, L being one
listing's duration at the operator's rate (a check begun just before the window lists into it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import os
import re
import tempfile
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import yaml
from bench.common import (
    ROOT,
    BenchStack,
    Emulator,
    Kube,
    _git,
    all_ready,
    call_kinds,
    ens_image,
    figure,
    is_ready,
    run,
    sandbox_url,
    save,
    save_plot,
    show,
)
from bench.p1b_big_account import seed_state, seeded_stack
from bench.profile import profiled

from ens_image_operator.settings import Settings

NAMESPACE = "p8"
FLAME = "p8_idle_flame"
GOAL_PERCENT = 2.0
PAGE = 50  # DescribeSelfImages' largest page
DEFAULTS = Settings.model_fields
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---- CPU ---------------------------------------------------------------------------------------


def _ticks(pid: int, children: bool) -> int:
    """utime + stime of one process (+ cutime + cstime: its children that were waited for)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # Fields 14-17 of proc(5): utime stime cutime cstime; fields[0] is field 3 (state).
    used = int(fields[11]) + int(fields[12])
    return used + int(fields[13]) + int(fields[14]) if children else used


def cpu_seconds(pid: int) -> float:
    """CPU seconds the process, its threads and its children (living or reaped) have used."""
    total = _ticks(pid, children=True)
    try:
        live = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        live = []
    for child in live:
        try:
            total += _ticks(child.pid, children=False)
        except OSError:
            continue  # gone meanwhile: its time is now in the parent's cutime (once reaped)
    return total / CLOCK_TICKS


# ---- Kubernetes requests -----------------------------------------------------------------------

REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE|HEAD) (/[^ ?\r\n]*)(\?[^ \r\n]*)? HTTP/1\.[01]\r\n")


def request_kind(method: str, path: str, query: str) -> str:
    """``GET ensimages (watch)``, ``PATCH ensimages/status``, ``GET secrets``…: method and resource."""
    parts = path.strip("/").split("/")
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else parts
    if parts[:1] == ["namespaces"] and len(parts) >= 3:
        parts = parts[2:]
    resource = "/".join(parts[:1] + parts[2:3]) or path
    return f"{method} {resource}{' (watch)' if 'watch=' in query else ''}"


class KubeRelay:
    """A TCP relay in front of the local Kubernetes API, in a thread of its own, that logs every HTTP
    request sent through it as ``(monotonic, kind)``; the operator's kubeconfig points at it."""

    def __init__(self, upstream: str) -> None:
        url = httpx.URL(upstream)
        self.upstream = (url.host, url.port or 80)
        self.log: list[tuple[float, str]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kube-relay", daemon=True)
        self.server: asyncio.Server | None = None
        self.url = ""

    def __enter__(self) -> KubeRelay:
        self.thread.start()
        start = asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _close(self) -> None:
        assert self.server is not None
        self.server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def kubeconfig(self, original: Path, target: Path) -> Path:
        """A copy of ``original`` whose clusters' server is this relay."""
        config = yaml.safe_load(original.read_text())
        for cluster in config.get("clusters") or ():
            cluster["cluster"]["server"] = self.url
        target.write_text(yaml.safe_dump(config))
        return target

    def kinds(self, start: float, end: float) -> dict[str, int]:
        return dict(Counter(kind for t, kind in list(self.log) if start <= t <= end).most_common())

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        try:
            upstream, to_upstream = await asyncio.open_connection(*self.upstream)
        except OSError:
            to_client.close()
            return
        await asyncio.gather(self._pipe(client, to_upstream, True), self._pipe(upstream, to_client, False))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: bool) -> None:
        tail = b""
        try:
            while chunk := await reader.read(65536):
                if count:
                    tail = self._count(tail + chunk)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _count(self, data: bytes) -> bytes:
        """Log the request lines in ``data``; what may be the start of one cut by the read is kept."""
        end = 0
        now = time.monotonic()
        for match in REQUEST_LINE.finditer(data):
            method, path, query = (part.decode("latin-1") if part else "" for part in match.groups())
            self.log.append((now, request_kind(method, path, query)))
            end = match.end()
        return data[max(end, len(data) - 2048) :]


# ---- the operator's metrics --------------------------------------------------------------------


def scrape(stack: BenchStack) -> dict[str, float]:
    """The operator's Prometheus samples, ``{'name{labels}': value}``."""
    text = httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def metric_sum(samples: dict[str, float], prefix: str) -> float:
    return sum(value for name, value in samples.items() if name.startswith(prefix))


def operator_counts(samples: dict[str, float]) -> dict[str, float]:
    return {
        "ens_calls": metric_sum(samples, "ens_operator_ens_calls_total{"),
        "passes": metric_sum(samples, "ens_operator_reconcile_duration_seconds_count{"),
        "kube_writes": metric_sum(samples, "ens_operator_kube_writes_total{"),
        "reconcile_errors": metric_sum(samples, "ens_operator_reconcile_errors_total{"),
    }


def ready_gauge(stack: BenchStack) -> float:
    return scrape(stack).get('ens_operator_resources{kind="EnsImage",ready="True"}', 0.0)


# ---- the run -----------------------------------------------------------------------------------


def drift_checks_allowed(window: float, since_start: float, slow: float, listing: float) -> int:
    """The most drift checks whose calls can fall into a window of ``window`` s that ends
    ``since_start`` s after the operator started (see the module's docstring)."""
    return max(0, min(math.floor((window + listing) / slow) + 1, math.floor(since_start / slow)))


async def set_up(stack: BenchStack, ids: list[str], within: float) -> float:
    kube = stack.kube(workers=16)
    await kube.namespace(NAMESPACE)
    started = time.monotonic()
    bodies = [ens_image(f"idle-{i:05d}", imageId=image_id) for i, image_id in enumerate(ids)]
    await kube.create_many(NAMESPACE, bodies)
    await kube.wait_until(
        "EnsImage", NAMESPACE, all_ready(len(ids)), within=within, what=f"{len(ids)} Ready", every=2.0
    )
    return time.monotonic() - started


async def versions(kube: Kube) -> tuple[dict[str, str], int]:
    items = await kube.items("EnsImage", NAMESPACE)
    return {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}, sum(
        1 for i in items if is_ready(i)
    )


def wait_indexed(stack: BenchStack, n: int, within: float) -> float:
    """Until the operator's gauges count ``n`` Ready EnsImages (its index holds them all)."""
    started = time.monotonic()
    while ready_gauge(stack) < n:
        if time.monotonic() - started > within:
            raise TimeoutError(f"the operator's gauges did not count {n} Ready EnsImages in {within:g} s")
        time.sleep(2.0)
    return time.monotonic() - started


async def window(
    stack: BenchStack, relay: KubeRelay, args: argparse.Namespace, operator_started: float, qps: float
) -> dict[str, Any]:
    assert stack.operator is not None
    pid = stack.operator.process.pid
    emulator = Emulator(stack.admin_url)
    kube = stack.kube()
    rv_before, ready_before = await versions(kube)
    metrics_before = operator_counts(scrape(stack))
    others = {name: getattr(stack, name).process.pid for name in ("sandbox", "emulator")}
    others_before = {name: cpu_seconds(p) for name, p in others.items()}
    emulator.delete("/calls")
    load_before = os.getloadavg()
    samples: list[tuple[float, float]] = []
    recording: AbstractContextManager[Path | None] = (
        profiled(pid, FLAME, native=True) if args.profile else contextlib.nullcontext()
    )
    with recording as svg:
        start = time.monotonic()
        samples.append((start, cpu_seconds(pid)))
        for tick in range(1, math.ceil(args.seconds) + 1):
            await asyncio.sleep(max(0.0, start + tick - time.monotonic()))
            samples.append((time.monotonic(), cpu_seconds(pid)))
        end = samples[-1][0]
    load_after = os.getloadavg()
    others_used = {name: round(cpu_seconds(p) - others_before[name], 2) for name, p in others.items()}
    metrics_after = operator_counts(scrape(stack))
    whole_log = emulator.call_log()
    log = [e for e in whole_log if start <= e["monotonic"] <= end]
    counters = emulator.calls()
    rv_after, ready_after = await versions(kube)

    used = samples[-1][1] - samples[0][1]
    step = max(1, round(args.bucket))
    buckets = []
    for first in range(0, len(samples) - 1, step):
        (t0, c0), (t1, c1) = samples[first], samples[min(first + step, len(samples) - 1)]
        buckets.append(
            {
                "from_s": round(t0 - start, 1),
                "cpu_percent": round((c1 - c0) / (t1 - t0) * 100, 2),
                "ens_calls": sum(1 for e in log if t0 <= e["monotonic"] < t1),
                "kube_requests": sum(relay.kinds(t0, t1 - 1e-9).values()),
            }
        )
    n = args.n
    listing_s = math.ceil(n / PAGE) / qps
    allowed_checks = drift_checks_allowed(end - start, end - operator_started, args.slow_poll, listing_s)
    listings = sum(
        1
        for e in log
        if e["action"] == "DescribeSelfImages"
        and not e["params"].get("ImageId")
        and int(e["params"].get("PageNumber") or 1) == 1
    )
    percent = used / (end - start) * 100
    calls_allowed = allowed_checks * math.ceil(n / PAGE)
    return {
        "window_s": round(end - start, 1),
        "window_from_operator_start_s": [
            round(start - operator_started, 1),
            round(end - operator_started, 1),
        ],
        "cpu_s": round(used, 3),
        "cpu_percent": round(percent, 3),
        "cpu_percent_max_bucket": max(b["cpu_percent"] for b in buckets),
        "buckets": buckets,
        "ens_calls": len(log),
        "ens_calls_by_kind": call_kinds(log),
        "ens_calls_counters": {a: sum(codes.values()) for a, codes in counters.items()},
        "ens_log_full": len(whole_log) >= 2000,  # the emulator keeps the last 2000: some may be lost
        "drift_checks_allowed": allowed_checks,
        "ens_calls_allowed": calls_allowed,
        "full_listings_started": listings,
        "kube_requests": sum(relay.kinds(start, end).values()),
        "kube_requests_by_kind": relay.kinds(start, end),
        # The relay's own check: the operator's requests of set-up and start-up went through it.
        "kube_requests_before_window": sum(relay.kinds(0.0, start - 1e-9).values()),
        "operator_metrics_delta": {k: metrics_after[k] - metrics_before[k] for k in metrics_before},
        "status_writes": sum(1 for name, rv in rv_after.items() if rv_before.get(name) != rv),
        "ready_before": ready_before,
        "ready_after": ready_after,
        "cpu_s_other_children": others_used,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "rss_mib": round(psutil.Process(pid).memory_info().rss / 2**20, 1),
        "flame_graph": str(svg.relative_to(ROOT)) if svg else None,
        "cpu_goal_met": percent <= GOAL_PERCENT,
        "calls_goal_met": len(log) <= calls_allowed,
    }


def measure(seed: Path, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    n = len(ids)
    slow = {"ENS_OPERATOR_SLOW_POLL_INTERVAL": str(args.slow_poll)}
    setup_env = {**slow, "ENS_OPERATOR_QPS": str(args.setup_qps)}
    measured_env = {**slow, "ENS_OPERATOR_QPS": str(DEFAULTS["qps"].default)}
    with (
        tempfile.TemporaryDirectory(prefix="ens-bench-p8-") as scratch,
        seeded_stack(seed, args.fast_poll, {}, operator=False) as stack,
        KubeRelay(sandbox_url(stack)) as relay,
    ):
        kubeconfig = relay.kubeconfig(stack.kubeconfig, Path(scratch) / "kubeconfig")
        via_relay = {"KUBECONFIG": str(kubeconfig)}
        operator_started = time.monotonic()
        digest = sources_digest()  # of the code the measured operator process loads
        stack.start_operator(env={**via_relay, **setup_env})
        setup_s = run(set_up(stack, ids, within=120 + n * 0.2))
        print(f"N={n}: all Ready {setup_s:.0f} s after the first create", flush=True)
        qps = args.setup_qps
        if not args.no_restart:
            stack.stop_operator()
            operator_started = time.monotonic()
            digest = sources_digest()
            stack.start_operator(env={**via_relay, **measured_env})
            qps = DEFAULTS["qps"].default
        indexed_s = wait_indexed(stack, n, within=120 + n * 0.02)
        time.sleep(args.settle)
        print(
            f"N={n}: operator indexed {n} Ready in {indexed_s:.0f} s; window of {args.seconds:g} s",
            flush=True,
        )
        result = run(window(stack, relay, args, operator_started, qps))
        stack.stop_operator()  # before the relay it talks through goes away
    return {
        "n": n,
        "setup_s": round(setup_s, 1),
        "restarted": not args.no_restart,
        "operator_sources_sha1": digest,
        "indexed_s": round(indexed_s, 1),
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p8_idle", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="stable objects (adoptions of seeded images)")
    parser.add_argument("--seconds", type=float, default=300.0, help="measurement window (s)")
    parser.add_argument("--bucket", type=float, default=10.0, help="CPU %% per bucket of this many seconds")
    parser.add_argument(
        "--slow-poll",
        type=float,
        default=DEFAULTS["slow_poll_interval"].default,
        help="the operator's drift-check interval (s; default: its own)",
    )
    parser.add_argument(
        "--fast-poll",
        type=float,
        default=DEFAULTS["fast_poll_interval"].default,
        help="fast-poll interval (s)",
    )
    parser.add_argument("--setup-qps", type=float, default=200.0, help="operator ENS QPS during set-up only")
    parser.add_argument("--settle", type=float, default=30.0, help="wait after the index is full (s)")
    parser.add_argument("--no-restart", action="store_true", help="measure the operator that did the set-up")
    parser.add_argument("--profile", action="store_true", help="flame graph: bench/results/p8_idle_flame.svg")
    parser.add_argument("--name", default="p8_idle", help="results file name (JSON and PNG)")
    parser.add_argument("--quick", action="store_true", help="N = 200, 60 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.seconds = 200, 60.0

    with tempfile.TemporaryDirectory(prefix="ens-bench-seed-") as folder:
        seed = Path(folder) / "seed.db"
        r = measure(seed, seed_state(seed, args.n), args)

    met = r["cpu_goal_met"] and r["calls_goal_met"]
    other = r["cpu_s_other_children"]
    checks = f"{r['drift_checks_allowed']} / {r['full_listings_started']}"
    writes = f"{r['operator_metrics_delta']['passes']:g} / {r['status_writes']}"
    load = f"{r['load_average_before'][0]} → {r['load_average_after'][0]}"
    show(
        f"P8 idle: {r['n']} stable EnsImages, nothing in flight, {r['window_s']:g} s window "
        f"(drift interval {args.slow_poll:g} s, {'restarted' if r['restarted'] else 'set-up'} operator)",
        ["measure", "value", "goal", "met"],
        [
            ["operator CPU, % of one core", r["cpu_percent"], f"≤ {GOAL_PERCENT:g}", _yes(r["cpu_goal_met"])],
            ["operator CPU, worst bucket %", r["cpu_percent_max_bucket"], "-", "-"],
            ["ENS calls", r["ens_calls"], f"≤ {r['ens_calls_allowed']}", _yes(r["calls_goal_met"])],
            ["  by kind", _kinds(r["ens_calls_by_kind"]), "-", "-"],
            ["drift checks allowed / listings started", checks, "-", "-"],
            ["Kubernetes requests", r["kube_requests"], "-", "-"],
            ["  by kind", _kinds(r["kube_requests_by_kind"]), "-", "-"],
            ["reconcile passes / status writes", writes, "-", "-"],
            ["CPU s of local API / emulator", f"{other['sandbox']} / {other['emulator']}", "-", "-"],
            ["load average (1 min) before → after", load, "-", "-"],
        ],
    )
    show(
        f"P8 operator CPU per {args.bucket:g} s bucket",
        ["from (s)", "CPU %", "ENS calls", "Kubernetes requests"],
        [[b["from_s"], b["cpu_percent"], b["ens_calls"], b["kube_requests"]] for b in r["buckets"]],
    )
    fig, axes = figure()
    starts = [b["from_s"] for b in r["buckets"]]
    axes.bar(
        starts,
        [b["cpu_percent"] for b in r["buckets"]],
        width=args.bucket * 0.9,
        align="edge",
        label="operator CPU",
    )
    axes.axhline(GOAL_PERCENT, color="k", linestyle="--", label=f"goal {GOAL_PERCENT:g} % (average)")
    axes.axhline(r["cpu_percent"], color="tab:red", linestyle=":", label=f"average {r['cpu_percent']:.2f} %")
    calls = [(b["from_s"], b["ens_calls"]) for b in r["buckets"] if b["ens_calls"]]
    if calls:
        twin = axes.twinx()
        twin.plot(*zip(*calls, strict=True), "x", color="tab:green", label="ENS calls")
        twin.set_ylabel("ENS calls per bucket")
        twin.set_ylim(bottom=0)
    axes.set_xlabel(f"seconds into the window ({args.bucket:g} s buckets)")
    axes.set_ylabel("% of one core")
    axes.set_ylim(bottom=0)
    axes.set_title(f"P8: idle operator, {r['n']} stable EnsImages")
    axes.legend(fontsize=8)
    save_plot(fig, args.name)
    save(
        args.name,
        {
            "n": r["n"],
            "seconds": args.seconds,
            "slow_poll_s": args.slow_poll,
            "fast_poll_s": args.fast_poll,
            "setup_qps": args.setup_qps,
            "profiled": args.profile,  # py-spy pauses the operator per sample: its CPU then reads higher
            # Other work edits operator/ meanwhile: the files that differed from the commit, and a
            # digest of operator/'s sources (result: when the measured operator started), tell
            # which code a figure was taken on.
            "operator_files_changed": [
                line.strip() for line in _git("status", "--porcelain", "--", "operator").splitlines()
            ],
            "operator_sources_sha1_at_end": sources_digest(),
            "result": r,
            "goal_percent": GOAL_PERCENT,
            "goal_met": met and r["n"] >= 5000,
        },
    )
    return 0


def sources_digest() -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted((ROOT / "operator").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in kinds.items()) or "-"


if __name__ == "__main__":
    raise SystemExit(main())
