"""Throughput of the local Kubernetes API: custom resources created and watched per second.

Starts ``ens-image-operator sandbox`` as a child process (the command users run), then creates
N EnsImage objects with C concurrent clients while one watch counts the ADDED events.
Prints a table and, last, one JSON line with the figures.

    .venv/bin/python bench/sandbox.py --objects 5000 --clients 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "ens.image-operator.io", "v1alpha1", "ensimages"
NAMESPACE = "bench"


def start_sandbox(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "ens_image_operator.cli", "sandbox", "--port", "0",
               "--kubeconfig", str(workdir / "kubeconfig"), "--crds", str(ROOT / "crds")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if match := re.search(r"listening on (http://\S+)", line):
            return process, match.group(1)
    raise RuntimeError("the sandbox did not start")


async def watch_added(url: str, since: str, expected: int, seen: list[float]) -> None:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    params = {"watch": "true", "resourceVersion": since}
    timeout = httpx.Timeout(120.0)
    async with (
        httpx.AsyncClient(base_url=url, timeout=timeout) as http,
        http.stream("GET", path, params=params) as response,
    ):
        async for line in response.aiter_lines():
            if line and json.loads(line)["type"] == "ADDED":
                seen.append(time.perf_counter())
                if len(seen) >= expected:
                    return


async def create_all(
    url: str, total: int, clients: int, latencies: list[float], done_at: list[float]
) -> None:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while not queue.empty():
                index = queue.get_nowait()
                body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "EnsImage",
                        "metadata": {"name": f"img-{index:05d}", "labels": {"bench": "yes"}},
                        "spec": {"imageId": f"m-bench{index:05d}"}}  # fmt: skip
                started = time.perf_counter()
                response = await http.post(path, json=body)
                latencies.append(time.perf_counter() - started)
                done_at.append(time.perf_counter())
                response.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(clients)))


async def run(total: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_sandbox(Path(tmp))
        server = psutil.Process(process.pid)
        try:
            async with httpx.AsyncClient(base_url=url) as http:
                await http.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
                listed = await http.get(f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}")
                since = listed.json()["metadata"]["resourceVersion"]
            rss_before = server.memory_info().rss
            seen: list[float] = []
            latencies: list[float] = []
            done_at: list[float] = []
            watcher = asyncio.create_task(watch_added(url, since, total, seen))
            await asyncio.sleep(0.2)  # let the watch open before the first create
            started = time.perf_counter()
            await create_all(url, total, clients, latencies, done_at)
            created = time.perf_counter()
            await asyncio.wait_for(watcher, 120)
            watched = time.perf_counter()
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                list_started = time.perf_counter()
                selector = {"labelSelector": "bench=yes"}
                listed = await http.get(f"/apis/{GROUP}/{VERSION}/{PLURAL}", params=selector)
                list_seconds = time.perf_counter() - list_started
                assert len(listed.json()["items"]) == total
            rss_after = server.memory_info().rss
        finally:
            process.terminate()
            process.wait(15)
    tenth = max(total // 10, 1)
    done_at.sort()
    first_rate = tenth / (done_at[tenth - 1] - started)
    last_rate = tenth / (done_at[-1] - done_at[-tenth - 1])
    return {
        "objects": total,
        "clients": clients,
        "create_per_second": round(total / (created - started), 1),
        "watched_per_second": round(total / (watched - started), 1),
        "watch_lag_ms_after_last_create": round((watched - created) * 1000, 1),
        "create_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "create_p99_ms": round(sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "first_tenth_per_second": round(first_rate, 1),
        "last_tenth_per_second": round(last_rate, 1),
        "list_all_seconds": round(list_seconds, 3),
        "server_rss_growth_mib": round((rss_after - rss_before) / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    results = [asyncio.run(run(args.objects, clients)) for clients in args.clients]
    keys = list(results[0])
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{'clients=' + str(r['clients']):>14}" for r in results))
    for key in keys[2:]:
        print(f"{key:{width}}  " + "  ".join(f"{r[key]:>14}" for r in results))
    print(json.dumps({"benchmark": "sandbox", "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
