"""``ens-image-operator emulator``: serve the local ENS API until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from ens_image_kit.emulator.server import DEFAULT_KEYS, run_emulator
from ens_image_kit.emulator.state import StsCredential

HELP = "serve the local ENS API emulator"


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the emulator's flags."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=9100, help="port to bind; 0 picks a free one")
    parser.add_argument("--state", metavar="FILE", help="SQLite file that keeps images across restarts")
    parser.add_argument(
        "--access-key-id", action="append", default=[], metavar="ID", help="accepted key id (repeatable)"
    )
    parser.add_argument(
        "--access-key-secret",
        action="append",
        default=[],
        metavar="SECRET",
        help="secret of the --access-key-id at the same position",
    )
    parser.add_argument(
        "--step-seconds", type=float, default=2.0, help="seconds per image status step (default 2)"
    )
    parser.add_argument(
        "--sts-key",
        action="append",
        default=[],
        nargs=3,
        metavar=("ID", "SECRET", "TOKEN"),
        help="an STS key accepted with this security token, never expiring (repeatable)",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault-injection dice")
    parser.add_argument(
        "--listing-lag",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds a new image stays invisible to DescribeSelfImages listings and lookups (default 0)",
    )


async def _serve(args: argparse.Namespace, keys: dict[str, str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with run_emulator(
        host=args.host,
        port=args.port,
        keys=keys,
        step_seconds=args.step_seconds,
        state_file=args.state,
        seed=args.seed,
        listing_lag=args.listing_lag,
        sts_keys={key_id: StsCredential(secret, token) for key_id, secret, token in args.sts_key},
    ) as emulator:
        print(f"ENS emulator listening on {emulator.url}", flush=True)
        await stop.wait()


def main(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM; 2 when the key flags do not pair up."""
    if len(args.access_key_id) != len(args.access_key_secret):
        print("error: give --access-key-id and --access-key-secret in pairs")
        return 2
    keys = dict(zip(args.access_key_id, args.access_key_secret, strict=True)) or dict(DEFAULT_KEYS)
    asyncio.run(_serve(args, keys))
    return 0
