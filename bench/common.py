"""What every benchmark shares: the local stack, bulk Kubernetes calls, the emulator's admin API, output.

Each benchmark prints a table, writes ``bench/results/<name>.json`` and a PNG plot, and ends with
exactly one JSON line of its figures, so a script can read the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import ssl
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil  # type: ignore[import-untyped]
from rich.console import Console
from rich.table import Table

from ens_image_kit.stack import LocalStack

if TYPE_CHECKING:
    from tests.cluster.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CRDS = ROOT / "crds"
OPERATOR_USER = "ens-image-operator"  # its client certificate on a real API server (tests/cluster/pki.py)
GROUP, VERSION = "ens.image-operator.io", "v1alpha1"
PLURALS = {"EnsImage": "ensimages", "EnsImageExport": "ensimageexports"}
console = Console(highlight=False, width=120)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def parse_sizes(text: str) -> list[int]:
    """``"10,100,1000"`` as a list of ints."""
    return [int(part) for part in text.split(",") if part.strip()]


# ---- the stack ---------------------------------------------------------------------------------


KUBE_TARGETS = ("sandbox", "real")


class BenchStack(LocalStack):
    """The stack, and how the benchmark itself reaches its Kubernetes API: the local sandbox, or a
    real kube-apiserver (``tests/cluster``) that the operator logs in to as its own client identity."""

    plane: ControlPlane | None = None

    @property
    def target(self) -> str:
        return "sandbox" if self.plane is None else "real"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) each child process has used so far: operator, emulator and
        the sandbox, or on a real API server its kube-apiserver and etcd."""
        pids = {name: child.process.pid for name in ("operator", "sandbox", "emulator")
                if (child := getattr(self, name)) is not None}  # fmt: skip
        if self.plane is not None:
            pids.update((k, pid) for k, pid in self.plane.pids().items() if k != "kube-controller-manager")
        used = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                used[name] = times.user + times.system
        return used

    def kube(self, workers: int = 8) -> Kube:
        if self.plane is None:
            return Kube(sandbox_url(self), workers)
        context = ssl.create_default_context(cafile=str(self.plane.pki / "ca.crt"))
        context.load_cert_chain(str(self.plane.pki / "admin.crt"), str(self.plane.pki / "admin.key"))
        return Kube(self.plane.server, workers, verify=context)


@contextmanager
def local_stack(
    *,
    step_seconds: float,
    fast_poll: float,
    operator_env: Mapping[str, str] | None = None,
    with_operator: bool = True,
    state_file: Path | None = None,
    kube: str = "sandbox",
    audit: bool = False,
) -> Iterator[BenchStack]:
    """Emulator + a Kubernetes API (+ the operator) in a scratch directory, all stopped after.

    ``kube="real"`` starts etcd and kube-apiserver of ``tests/cluster`` (built once, cached) instead
    of the local sandbox and installs the CRDs there; ``audit`` turns on its audit log
    (``stack.plane.audit_log``). A state file is copied, so the seed stays as it was.
    """
    with tempfile.TemporaryDirectory(prefix="ens-bench-") as scratch, ExitStack() as cleanup:
        workdir = Path(scratch)
        plane = None
        if state_file is not None:
            state_file = Path(shutil.copy(state_file, workdir / "ens.db"))
        if kube == "real":
            from tests.cluster.controlplane import start_control_plane

            plane = start_control_plane(
                workdir / "k8s", progress=lambda line: print(line, flush=True), audit=audit
            )
            cleanup.callback(plane.stop)
            install_crds(plane)
        elif kube != "sandbox":
            raise ValueError(f"kube must be one of {', '.join(KUBE_TARGETS)}, not {kube!r}")
        stack = BenchStack(
            workdir,
            step_seconds=step_seconds,
            fast_poll_interval=fast_poll,
            state_file=state_file,
            operator_env={"ENS_OPERATOR_LOG_LEVEL": "WARNING", **(operator_env or {})},
            start_timeout=120,
            kubeconfig=plane.client_kubeconfig(OPERATOR_USER) if plane else None,
        )
        stack.plane = plane
        try:
            with stack:
                if with_operator:
                    stack.start_operator()
                yield stack
        finally:
            keep_logs(workdir)


def used_between(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds per process between two :meth:`BenchStack.cpu_seconds` readings."""
    return {name: round(after[name] - before.get(name, 0.0), 1) for name in after}


def add_kube_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kube",
        choices=KUBE_TARGETS,
        default="sandbox",
        help="the Kubernetes API: the local sandbox, or a real kube-apiserver + etcd "
        "(built once from tests/cluster, needs Go; results named <name>_real)",
    )


def result_name(name: str, kube: str) -> str:
    """``p2_lag`` on the sandbox, ``p2_lag_real`` on a real API server."""
    return name if kube == "sandbox" else f"{name}_{kube}"


def install_crds(plane: ControlPlane) -> None:
    """Apply ``crds/`` to a real API server and wait until they are served."""
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    for args in (["apply", "-f", str(CRDS)], ["wait", "--for=condition=Established", "-f", str(CRDS)]):
        subprocess.run([str(plane.kubectl), *args], check=True, env=env, capture_output=True, timeout=120)


def keep_logs(scratch: Path) -> None:
    """Copy the children's logs to $ENS_BENCH_LOGS (if set), to find out afterwards what limited a run."""
    target = os.environ.get("ENS_BENCH_LOGS")
    if not target:
        return
    folder = Path(target) / time.strftime("%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    for log in scratch.glob("*.log"):
        shutil.copy(log, folder / log.name)


def sandbox_url(stack: LocalStack) -> str:
    assert stack.sandbox is not None and stack.sandbox.url is not None
    return stack.sandbox.url


def collection(kind: str, namespace: str | None) -> str:
    """The REST path of a kind's objects, in one namespace or all."""
    where = f"namespaces/{namespace}/" if namespace else ""
    return f"/apis/{GROUP}/{VERSION}/{where}{PLURALS[kind]}"


def ens_image(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "EnsImage", "metadata": {"name": name}, "spec": spec}


def oss_source(obj: str, bucket: str = "bench") -> dict[str, Any]:
    return {"oss": {"bucket": bucket, "object": obj, "region": "cn-beijing"}}


BENCH_AGENT = {"User-Agent": "ens-bench"}


class Kube:
    """A Kubernetes API over HTTP(S): bulk creates with a few workers, lists, watches."""

    def __init__(self, url: str, workers: int = 8, verify: ssl.SSLContext | bool = True) -> None:
        self.url = url
        self.workers = workers
        self.verify = verify

    def client(self, timeout: float | None = 120.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, timeout=httpx.Timeout(timeout), verify=self.verify, headers=BENCH_AGENT
        )

    async def namespace(self, name: str) -> None:
        async with self.client() as http:
            response = await http.post("/api/v1/namespaces", json={"metadata": {"name": name}})
            if response.status_code not in (201, 200, 409):
                response.raise_for_status()

    async def create_many(
        self, namespace: str, bodies: Sequence[Mapping[str, Any]]
    ) -> dict[str, tuple[float, float]]:
        """Create every object; ``{name: (monotonic before POST, monotonic after its 201)}``."""
        queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        times: dict[str, tuple[float, float]] = {}

        async def worker() -> None:
            async with self.client() as http:
                while not queue.empty():
                    body = queue.get_nowait()
                    path = collection(str(body["kind"]), namespace)
                    before = time.monotonic()
                    response = await http.post(path, json=body)
                    after = time.monotonic()
                    response.raise_for_status()
                    times[str(body["metadata"]["name"])] = (before, after)

        await asyncio.gather(*(worker() for _ in range(self.workers)))
        return times

    async def items(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        async with self.client() as http:
            response = await http.get(collection(kind, namespace))
            response.raise_for_status()
            items: list[dict[str, Any]] = response.json()["items"]
            return items

    async def delete_many(self, kind: str, namespace: str, names: Sequence[str]) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for name in names:
            queue.put_nowait(name)

        async def worker() -> None:
            async with self.client() as http:
                while not queue.empty():
                    name = queue.get_nowait()
                    response = await http.delete(f"{collection(kind, namespace)}/{name}")
                    if response.status_code != 404:
                        response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(self.workers)))

    async def wait_until(
        self,
        kind: str,
        namespace: str,
        done: Callable[[list[dict[str, Any]]], bool],
        *,
        within: float,
        what: str,
        every: float = 1.0,
    ) -> list[dict[str, Any]]:
        """List until ``done(items)`` holds; fail with a count of Ready objects otherwise."""
        deadline = time.monotonic() + within
        while True:
            items = await self.items(kind, namespace)
            if done(items):
                return items
            if time.monotonic() > deadline:
                ready = sum(1 for item in items if is_ready(item))
                raise TimeoutError(f"{what} not reached in {within:.0f}s ({ready}/{len(items)} Ready)")
            await asyncio.sleep(every)

    async def settle(
        self,
        kind: str,
        namespace: str,
        done: Callable[[list[dict[str, Any]]], bool],
        *,
        within: float,
        every: float = 1.0,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Like :meth:`wait_until`, but on timeout returns what is there and False: a figure on a
        partial set-up, labelled as such, says more than no figure."""
        deadline = time.monotonic() + within
        while True:
            items = await self.items(kind, namespace)
            if done(items):
                return items, True
            if time.monotonic() > deadline:
                return items, False
            await asyncio.sleep(every)

    async def watch(
        self,
        kind: str,
        namespace: str,
        on_event: Callable[[str, dict[str, Any]], bool],
        since: str | None = None,
    ) -> None:
        """Stream watch events to ``on_event(type, object)`` until it returns True."""
        params = {"watch": "true"}
        if since:
            params["resourceVersion"] = since
        async with (
            self.client(timeout=None) as http,
            http.stream("GET", collection(kind, namespace), params=params) as response,
        ):
            async for line in response.aiter_lines():
                if line.strip():
                    event = json.loads(line)
                    if on_event(event["type"], event["object"]):
                        return


def condition(body: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for cond in (body.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def is_ready(body: Mapping[str, Any]) -> bool:
    return (condition(body, "Ready") or {}).get("status") == "True"


def all_ready(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda items: len(items) >= count and all(is_ready(item) for item in items)


# ---- the emulator ------------------------------------------------------------------------------


class Emulator:
    """The emulator's admin API (plain JSON, unsigned)."""

    def __init__(self, admin_url: str) -> None:
        self.http = httpx.Client(base_url=admin_url, timeout=60)

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: object) -> Any:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def delete(self, path: str) -> None:
        self.http.delete(path).raise_for_status()

    def calls(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = self.get("/calls")
        return counts

    def call_log(self, action: str | None = None) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = self.get("/calls/log", **({"action": action} if action else {}))
        return log

    def images(self) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = self.get("/images")
        return images

    def force(self, image_id: str, **fields: str) -> dict[str, Any]:
        reply: dict[str, Any] = self.post(f"/images/{image_id}", fields)
        return reply

    def config(self, **settings: object) -> None:
        self.post("/config", settings)


def call_kinds(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """ENS calls by action from the emulator's call log, DescribeSelfImages split into listing pages
    and lookups by ImageId."""
    kinds: Counter[str] = Counter()
    for entry in entries:
        action = entry["action"]
        if action == "DescribeSelfImages":
            action += " by ImageId" if entry["params"].get("ImageId") else " (listing page)"
        kinds[action] += 1
    return dict(kinds)


def total_calls(counts: Mapping[str, Mapping[str, int]], action: str | None = None) -> int:
    """Calls counted by the emulator, of one action or of all."""
    return sum(sum(codes.values()) for name, codes in counts.items() if action in (None, name))


async def seed_images(stack: LocalStack, count: int, prefix: str) -> list[str]:
    """``count`` Available images in the emulator (imported at step 0), for adoption; their ids."""
    from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
    from ens_image_operator.ens.client import EnsClient  # the operator's client, as a tool here
    from ens_image_operator.ens.credentials import StaticCredentials
    from ens_image_operator.ens.models import ImportImageRequest
    from ens_image_operator.ens.ratelimit import RateLimiter

    emulator = Emulator(stack.admin_url)
    before = emulator.get("/config")["stepSeconds"]
    emulator.config(stepSeconds=0)
    ids: list[str] = []
    try:
        async with EnsClient(
            StaticCredentials(DEFAULT_KEY_ID, DEFAULT_KEY_SECRET),
            endpoint=stack.emulator_url,
            limiter=RateLimiter(qps=1e9, burst=1_000_000),
        ) as ens:
            semaphore = asyncio.Semaphore(16)

            async def one(index: int) -> None:
                async with semaphore:
                    request = ImportImageRequest(
                        image_name=f"{prefix}-{index}",
                        os_type="linux",
                        oss_bucket="bench",
                        oss_object=f"seed-{index}.qcow2",
                        oss_region="cn-beijing",
                    )
                    ids.append(await ens.import_image(request))

            await asyncio.gather(*(one(index) for index in range(count)))
    finally:
        emulator.config(stepSeconds=before)
    return ids


# ---- output ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Where and on what code the figures were taken: they move with both."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "operator_changed_since_commit": bool(_git("status", "--porcelain", "--", "operator")),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip()


def show(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A rich table on stdout."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column != columns[0] else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)


def save(name: str, figures: Mapping[str, Any]) -> None:
    """``bench/results/<name>.json`` and, last on stdout, the same figures as one JSON line."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, **figures, **machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(json.dumps(document, sort_keys=True), flush=True)


def figure() -> Any:
    """A fresh matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=(7, 4.2), dpi=100)
    return fig, axes


def save_plot(fig: Any, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def run(coroutine: Awaitable[Any]) -> Any:
    """``asyncio.run`` for an awaitable built by the caller."""

    async def main() -> Any:
        return await coroutine

    return asyncio.run(main())
