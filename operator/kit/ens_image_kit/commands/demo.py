"""``ens-image-operator demo``: the whole product on one machine, with progress shown live.

Starts the ENS emulator, the local Kubernetes API and the operator as child processes, applies
``examples/``, and shows every object's conditions until all are Ready.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ens_image_kit.stack import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, LocalStack
from ens_image_operator import GROUP, VERSION

HELP = "run operator + ENS emulator + local Kubernetes API and show progress live"

PLURALS = {
    "EnsImage": "ensimages",
    "EnsImageExport": "ensimageexports",
    "EnsImageCatalog": "ensimagecatalogs",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=Path, default=None, help="folder of YAML objects to apply")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for all Ready")
    parser.add_argument("--keep", action="store_true", help="stay up after all are Ready (Ctrl-C stops)")
    parser.add_argument("--workdir", type=Path, default=None, help="where logs and the kubeconfig go")
    parser.add_argument("--step-seconds", type=float, default=1.0, help="emulator seconds per state")
    parser.add_argument("--namespace", default="default", help="namespace for objects without one")


def find_examples() -> Path:
    """The repository's ``examples/`` folder, from the source tree or the current directory."""
    for base in (Path(__file__).resolve().parents[4], Path.cwd()):
        if (base / "examples").is_dir():
            return base / "examples"
    raise SystemExit("demo: no examples/ folder found; run it from the repository or pass --examples")


def load_objects(folder: Path) -> list[dict[str, Any]]:
    """Every object of every ``*.yaml`` in the folder, Secrets first, then in file order."""
    objects: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        objects += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return sorted(objects, key=lambda obj: obj.get("kind") != "Secret")


def _seed_image(stack: LocalStack) -> str:
    """Import one image straight through the ENS API, as if it had been made outside Kubernetes."""
    from ens_image_operator.ens.client import EnsClient
    from ens_image_operator.ens.credentials import StaticCredentials
    from ens_image_operator.ens.models import ImportImageRequest

    async def seed() -> str:
        creds = StaticCredentials(DEFAULT_KEY_ID, DEFAULT_KEY_SECRET)
        async with EnsClient(creds, endpoint=stack.emulator_url) as ens:
            request = ImportImageRequest(
                image_name="golden-ubuntu-2204",
                os_type="linux",
                oss_bucket="golden-images",
                oss_object="ubuntu-22.04.qcow2",
                oss_region="cn-beijing",
            )
            return await ens.import_image(request)

    return asyncio.run(seed())


def apply_objects(api: k8s.ApiClient, objects: list[dict[str, Any]], namespace: str, seeded: str) -> None:
    core, custom = k8s.CoreV1Api(api), k8s.CustomObjectsApi(api)
    for obj in objects:
        ns = obj.setdefault("metadata", {}).setdefault("namespace", namespace)
        if obj.get("kind") == "Secret":
            # the examples carry placeholders; the demo's emulator knows its own key
            obj.pop("data", None)
            obj["stringData"] = {"accessKeyId": DEFAULT_KEY_ID, "accessKeySecret": DEFAULT_KEY_SECRET}
            core.create_namespaced_secret(ns, cast(k8s.V1Secret, obj))  # the client takes plain dicts
            continue
        spec = obj.get("spec", {})
        if obj.get("kind") == "EnsImage" and "imageId" in spec:
            spec["imageId"] = seeded  # adopt examples point at an image made outside Kubernetes
        plural = PLURALS[obj["kind"]]
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, plural, obj)


def list_objects(api: k8s.ApiClient) -> Iterator[dict[str, Any]]:
    custom = k8s.CustomObjectsApi(api)
    for plural in PLURALS.values():
        listing = cast(dict[str, Any], custom.list_cluster_custom_object(GROUP, VERSION, plural))
        yield from listing.get("items", [])


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def is_ready(obj: dict[str, Any]) -> bool:
    return condition(obj, "Ready").get("status") == "True"


def _detail(obj: dict[str, Any]) -> str:
    status = obj.get("status", {})
    if obj["kind"] == "EnsImage":
        return f"{status.get('imageId', '-')} {status.get('imageStatus', '')}".strip()
    if obj["kind"] == "EnsImageExport":
        return status.get("exportedImageURL") or status.get("exportStatus") or "-"
    return f"{status.get('imageCount', '-')} images"


def render(objects: list[dict[str, Any]], elapsed: float) -> Table:
    table = Table(title=f"ens-image-operator demo — {elapsed:5.1f}s")
    table.add_column("KIND", no_wrap=True)
    table.add_column("NAME", no_wrap=True)
    table.add_column("READY", no_wrap=True)
    table.add_column("REASON", no_wrap=True)
    table.add_column("CLOUD / MESSAGE", overflow="fold")
    for obj in sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"])):
        ready = condition(obj, "Ready")
        stalled = condition(obj, "Stalled").get("status") == "True"
        if ready.get("status") == "True":
            mark, detail = "[green]True", _detail(obj)
        else:
            mark = "[red]Stalled" if stalled else "[yellow]False"
            detail = ready.get("message") or _detail(obj)
        table.add_row(obj["kind"], obj["metadata"]["name"], mark, ready.get("reason", "-"), detail)
    return table


def watch_until_ready(api: k8s.ApiClient, expected: int, timeout: float, console: Console) -> bool:
    start = time.monotonic()
    objects: list[dict[str, Any]] = []
    with Live(render(objects, 0.0), console=console, refresh_per_second=4, transient=False) as live:
        while time.monotonic() - start < timeout:
            objects = list(list_objects(api))
            live.update(render(objects, time.monotonic() - start))
            if len(objects) >= expected and all(is_ready(obj) for obj in objects):
                break
            time.sleep(0.5)
    console.print()
    return len(objects) >= expected and all(is_ready(obj) for obj in objects)


def main(args: argparse.Namespace) -> int:
    # SIGTERM stops the demo as Ctrl-C does: the stack's context closes every child process.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    console = Console() if Console().is_terminal else Console(width=140)
    examples = args.examples or find_examples()
    objects = load_objects(examples)
    expected = sum(1 for obj in objects if obj.get("kind") in PLURALS)
    with tempfile.TemporaryDirectory(prefix="ens-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        console.print(
            f"[bold]Starting[/] ENS emulator, local Kubernetes API and operator (logs in {workdir})"
        )
        started = time.monotonic()
        with LocalStack(workdir, step_seconds=args.step_seconds) as stack:
            stack.start_operator()
            api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(stack.kubeconfig)
            )
            seeded = _seed_image(stack)
            apply_objects(api, objects, args.namespace, seeded)
            console.print(f"Applied {len(objects)} objects from {examples}")
            if not watch_until_ready(api, expected, args.timeout, console):
                waiting = [o["metadata"]["name"] for o in list_objects(api) if not is_ready(o)]
                console.print(
                    f"[red]Timed out after {args.timeout:.0f}s[/] waiting for: {', '.join(waiting)}. "
                    f"Operator log: {stack.operator_log}"
                )
                return 1
            console.print(f"[green]All {expected} objects Ready[/] in {time.monotonic() - started:.1f}s.")
            if args.keep:
                console.print(
                    "Explore it from another shell:\n"
                    f"  KUBECONFIG={stack.kubeconfig} kubectl get ens -A\n"
                    f"  curl {stack.admin_url}/images\n"
                    "Ctrl-C stops everything."
                )
                _wait_for_interrupt()
    return 0


def _wait_for_interrupt() -> None:
    stop = asyncio.Event()

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    asyncio.run(wait())
