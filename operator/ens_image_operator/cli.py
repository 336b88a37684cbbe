"""The ``ens-image-operator`` console script: one subcommand per module in ``commands/``.

A subcommand's module is imported only when it is run, so ``images`` does not pay for kopf.
Each module exposes ``HELP`` (one line), ``configure(parser)`` and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from ens_image_operator import __version__

COMMANDS: dict[str, str] = {
    "run": "run the operator against the current kubeconfig (or in-cluster config)",
    "demo": "run operator + ENS emulator + local Kubernetes API and show progress live",
    "images": "list the public ENS images (DescribeImageInfos): checks your credentials",
    "emulator": "serve the local ENS API emulator",
    "sandbox": "serve the local Kubernetes API with the project's CRDs installed",
    "crds": "print the CustomResourceDefinitions generated from the models",
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"ens_image_operator.commands.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the subcommand, then hand the rest of the arguments to its module."""
    args = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="ens-image-operator",
        description="Manage Alibaba Cloud ENS custom images as Kubernetes resources.",
    )
    top.add_argument("--version", action="version", version=__version__)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not args or args[0] not in COMMANDS:
        top.parse_args(args)  # prints usage / --help / --version and exits
        return 2
    name, rest = args[0], args[1:]
    module = _load(name)
    parser = argparse.ArgumentParser(prog=f"ens-image-operator {name}", description=COMMANDS[name])
    module.configure(parser)
    code: int = module.main(parser.parse_args(rest))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
