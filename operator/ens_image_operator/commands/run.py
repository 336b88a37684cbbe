"""``ens-image-operator run``: the operator, kopf in-process, against the current kubeconfig or in-cluster.

Every Settings field is also a flag (``--fast-poll-interval 2``); flags override ``ENS_OPERATOR_*``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import zlib
from typing import Any

from ens_image_operator.settings import Settings

HELP = "run the operator against the current kubeconfig (or in-cluster config)"

_SPECIAL = {"namespaces", "endpoint"}
_CONVERTERS: dict[str, type[int | float | str]] = {str(int): int, str(float): float}


def configure(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        dest="namespaces",
        action="append",
        default=None,
        help="watch this namespace (repeatable); default: settings.namespaces, else all",
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace")
    parser.add_argument("--endpoint", default=None, help="ENS OpenAPI endpoint URL")
    for name, field in Settings.model_fields.items():
        if name in _SPECIAL:
            continue
        flag = "--" + name.replace("_", "-")
        convert = _CONVERTERS.get(str(field.annotation), str)
        parser.add_argument(
            flag,
            dest=f"setting_{name}",
            metavar=name.upper(),
            type=convert,
            default=None,
            help=field.description,
        )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    overrides: dict[str, Any] = {
        key.removeprefix("setting_"): value
        for key, value in vars(args).items()
        if key.startswith("setting_") and value is not None
    }
    if args.endpoint:
        overrides["endpoint"] = args.endpoint
    if args.namespaces:
        overrides["namespaces"] = args.namespaces
    if args.all_namespaces:
        overrides["namespaces"] = []
    return Settings(**overrides)


def derived_priority(hostname: str) -> int:
    """A stable, distinct-enough peering priority per replica (kopf freezes on equal priorities)."""
    return zlib.crc32(hostname.encode()) % 10_000 + 1


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    logging.basicConfig(
        level=settings.log_level,
        format='{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}'
        if settings.log_format == "json"
        else "%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from ens_image_operator.controllers.connection import ConnectionProblem, skip_client_library_unless_needed

    skip_client_library_unless_needed()
    from ens_image_operator.controllers.operator import run_operator

    try:
        priority = settings.priority or derived_priority(socket.gethostname())
        asyncio.run(run_operator(settings, priority=priority))
    except KeyboardInterrupt:
        return 0
    except ConnectionProblem as problem:
        print(f"ens-image-operator: {problem}", file=sys.stderr)
        return 1
    return 0
