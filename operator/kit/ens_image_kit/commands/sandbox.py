"""``ens-image-operator sandbox``: serve the local Kubernetes API with the CRDs installed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from ens_image_kit.sandbox.server import default_crd_paths, running_sandbox

HELP = "serve the local Kubernetes API with the project's CRDs installed"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write a kubeconfig for it")
    parser.add_argument(
        "--crds",
        type=Path,
        action="append",
        default=None,
        metavar="DIR_OR_FILE",
        help="CRD files or directories to install (repeatable; default: the repository's crds/)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request and its status code")


async def _serve(args: argparse.Namespace) -> int:
    crds = args.crds if args.crds is not None else default_crd_paths()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_sandbox(crds=crds, host=args.host, port=args.port) as sandbox:
        sandbox.write_kubeconfig(args.kubeconfig)
        kinds = sorted({t.kind for t in sandbox.api.registry if t.custom})
        print(f"Custom resource kinds served: {', '.join(kinds) or 'none'}", flush=True)
        print(f"Kubeconfig written to {args.kubeconfig}", flush=True)
        print(f"Kubernetes API sandbox listening on {sandbox.url}", flush=True)
        await stop.wait()
    return 0


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.verbose:  # our request lines only, not every library's debug chatter
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("ens_image_kit.sandbox").setLevel(logging.DEBUG)
    return asyncio.run(_serve(args))
