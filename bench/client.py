"""Benchmark of the ENS client: signing cost, and calls/s against the emulator next to the official SDK.

Run from the repository root: ``python -m bench.client`` (or ``python bench/client.py``).
The emulator runs in a subprocess; every client calls DescribeSelfImages on it. The official V3 SDK
(``alibabacloud_ens20171110``) is synchronous, so it runs once sequentially and once on a thread pool
as wide as the asynchronous client's concurrency. Prints a table, then one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from ens_image_operator.ens.auth import Acs3Auth
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import Credentials, StaticCredentials
from ens_image_operator.ens.models import DiskDeviceMapping, ImportImageRequest
from ens_image_operator.ens.ratelimit import RateLimiter

KEY_ID, KEY_SECRET = "bench-id", "bench-secret"
QUERY = {"ImageName": "bench", "PageNumber": "1", "PageSize": "50"}
T = TypeVar("T")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_each(prepare: Callable[[], T], work: Callable[[T], object], count: int) -> list[float]:
    """Wall time in µs of ``work`` on a fresh ``prepare()`` each time (not timed), after a warm-up."""
    for _ in range(min(1000, count)):
        work(prepare())
    samples: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(count):
        item = prepare()
        start = clock()
        work(item)
        samples.append((clock() - start) / 1000.0)
    return samples


def our_signing(count: int) -> list[float]:
    """Acs3Auth.apply on a built DescribeSelfImages request: date, nonce, body hash and signature."""
    auth = Acs3Auth(StaticCredentials(KEY_ID, KEY_SECRET))
    creds = Credentials(KEY_ID, KEY_SECRET)
    url = "https://ens.aliyuncs.com/?ImageName=bench&PageNumber=1&PageSize=50"

    def prepare() -> httpx.Request:
        headers = {"x-acs-action": "DescribeSelfImages", "x-acs-version": "2017-11-10"}
        return httpx.Request("POST", url, headers=headers)

    return time_each(prepare, lambda request: auth.apply(request, creds), count)


def sdk_signing(count: int) -> list[float]:
    """The official SDK's ACS3 signer (Utils.get_authorization) over the same request."""
    from alibabacloud_tea_openapi.utils import Utils  # type: ignore[import-untyped]
    from darabonba.request import DaraRequest  # type: ignore[import-untyped]

    def prepare() -> Any:
        request = DaraRequest()
        request.method, request.pathname, request.query = "POST", "/", dict(QUERY)
        request.headers = {
            "host": "ens.aliyuncs.com",
            "x-acs-action": "DescribeSelfImages",
            "x-acs-version": "2017-11-10",
        }
        return request

    def sign(request: Any) -> None:
        # The same work as ours: date, nonce and body hash headers, then the signature.
        request.headers["x-acs-date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        request.headers["x-acs-signature-nonce"] = os.urandom(16).hex()
        request.headers["x-acs-content-sha256"] = hashlib.sha256(b"").hexdigest()
        request.headers["Authorization"] = Utils.get_authorization(
            request, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], KEY_ID, KEY_SECRET
        )

    return time_each(prepare, sign, count)


@contextmanager
def emulator_process() -> Iterator[str]:
    """The emulator CLI in a subprocess on a free port; yields its URL."""
    command = [
        sys.executable, "-m", "ens_image_operator.cli", "emulator", "--port", "0",
        "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET, "--step-seconds", "0",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_client(url: str) -> EnsClient:
    return EnsClient(
        StaticCredentials(KEY_ID, KEY_SECRET),
        endpoint=url,
        limiter=RateLimiter(qps=1e9, burst=1_000_000),
        max_attempts=1,
    )


async def seed_images(url: str, count: int) -> None:
    async with make_client(url) as ens:
        for n in range(count):
            disk = DiskDeviceMapping(oss_bucket="bench", oss_object=f"d{n}.qcow2", oss_region="cn-beijing")
            await ens.import_image(
                ImportImageRequest(image_name=f"bench-{n}", os_type="linux", disk_device_mapping=[disk])
            )


Rate = tuple[float, float]  # (calls/s, client-process CPU µs per call)


async def ours(url: str, calls: int, concurrency: int) -> Rate:
    """EnsClient calls/s with ``concurrency`` tasks sharing one client."""
    async with make_client(url) as ens:
        await ens.describe_self_images(image_name="bench")  # open the pool
        remaining = calls

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                page = await ens.describe_self_images(image_name="bench")
                assert page.images

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return calls / (time.perf_counter() - start), (time.process_time() - cpu) / calls * 1e6


def sdk(url: str, calls: int, concurrency: int) -> Rate:
    """Official V3 SDK calls/s: one client per thread, ``concurrency`` threads."""
    from alibabacloud_ens20171110 import models as ens_models  # type: ignore[import-untyped]
    from alibabacloud_ens20171110.client import Client  # type: ignore[import-untyped]
    from alibabacloud_tea_openapi.utils_models import Config  # type: ignore[import-untyped]

    local = threading.local()
    host = url.removeprefix("http://")

    def call(_: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            config = Config(
                access_key_id=KEY_ID, access_key_secret=KEY_SECRET, endpoint=host, protocol="http"
            )
            client = local.client = Client(config)
        response = client.describe_self_images(ens_models.DescribeSelfImagesRequest(image_name="bench"))
        assert response.body.images.image

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, range(concurrency)))  # warm every thread's client
        start, cpu = time.perf_counter(), time.process_time()
        list(pool.map(call, range(calls)))
        return calls / (time.perf_counter() - start), (time.process_time() - cpu) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--signatures", type=int, default=20_000, help="signatures timed per signer")
    parser.add_argument("--calls", type=int, default=2_000, help="DescribeSelfImages calls per run")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks (ours) / threads (SDK)")
    parser.add_argument("--images", type=int, default=20, help="images in the emulator")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client; the median is reported")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {
        "signatures": args.signatures,
        "calls": args.calls,
        "concurrency": args.concurrency,
    }
    for name, signer in (("ours", our_signing), ("sdk", sdk_signing)):
        samples = signer(args.signatures)
        figures[f"sign_{name}_mean_us"] = round(statistics.fmean(samples), 2)
        figures[f"sign_{name}_p99_us"] = round(percentile(samples, 0.99), 2)

    runs: dict[str, Callable[[str], Rate]] = {
        "ours_sequential": lambda url: asyncio.run(ours(url, args.calls, 1)),
        "ours_concurrent": lambda url: asyncio.run(ours(url, args.calls, args.concurrency)),
        "sdk_sequential": lambda url: sdk(url, args.calls, 1),
        "sdk_concurrent": lambda url: sdk(url, args.calls, args.concurrency),
    }
    results: dict[str, list[Rate]] = {name: [] for name in runs}
    with emulator_process() as url:
        asyncio.run(seed_images(url, args.images))
        for _ in range(args.repeat):  # interleaved, so drift on a busy machine hits every client alike
            for name, run_once in runs.items():
                results[name].append(run_once(url))
    for name, rates in results.items():
        figures[f"{name}_cps"] = round(statistics.median(rate for rate, _ in rates), 1)
        figures[f"{name}_cpu_us"] = round(statistics.median(cpu for _, cpu in rates), 1)
    figures["python"] = platform.python_version()
    figures["cpus"] = os.cpu_count()

    print(f"{args.calls} DescribeSelfImages calls per run against the emulator, median of {args.repeat}")
    rows = [
        ("signing, mean (µs)", "sign_{}_mean_us"),
        ("signing, p99 (µs)", "sign_{}_p99_us"),
        ("calls/s, sequential", "{}_sequential_cps"),
        (f"calls/s, {args.concurrency} tasks (ours) / threads (SDK)", "{}_concurrent_cps"),
        ("client CPU µs per call, sequential", "{}_sequential_cpu_us"),
        (f"client CPU µs per call, {args.concurrency} concurrent", "{}_concurrent_cpu_us"),
    ]
    print(f"{'measure':<48}{'ours':>12}{'official SDK':>14}")
    for label, key in rows:
        print(f"{label:<48}{figures[key.format('ours')]:>12}{figures[key.format('sdk')]:>14}")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
