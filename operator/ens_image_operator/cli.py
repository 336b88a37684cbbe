"""The ``ens-image-operator`` console script: ``run``, ``crds``, ``images``, plus any installed plugins.

A subcommand's module is imported only when it is run, so ``images`` does not pay for kopf.
Each module exposes ``HELP`` (one line), ``configure(parser)`` and ``main(args) -> int``.
Further subcommands come from the entry-point group ``ens_image_operator.commands`` (name = the
subcommand, value = its module path); the local kit (``operator/kit``) declares ``demo``,
``emulator`` and ``sandbox`` there. The operator itself never imports the kit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from types import ModuleType

from ens_image_operator import __version__

ENTRY_POINT_GROUP = "ens_image_operator.commands"

COMMANDS: dict[str, str] = {
    "run": "run the operator against the current kubeconfig (or in-cluster config)",
    "images": "list the public ENS images (DescribeImageInfos): checks your credentials",
    "crds": "print the CustomResourceDefinitions generated from the models",
}

# Only for the hint when the kit is not installed; the modules themselves are found by entry point.
KIT_COMMANDS = ("demo", "emulator", "sandbox")
KIT_HINT = (
    "ens-image-operator {name}: this command comes with the local kit (ens-image-operator-kit), "
    "which is not installed; `make demo` installs it, or `pip install -e operator/kit`"
)


def plugin_commands() -> dict[str, str]:
    """Installed plugin subcommands: name -> module path (a built-in name always wins)."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {name: module for name, module in sorted(found.items()) if name not in COMMANDS}


def _load(name: str, plugins: dict[str, str]) -> ModuleType:
    module = plugins.get(name, f"ens_image_operator.commands.{name}")
    return importlib.import_module(module)


def _plugin_help(name: str, plugins: dict[str, str]) -> str:
    """A plugin's one-line HELP; a plugin that cannot be imported is listed as such, not fatal."""
    try:
        return str(getattr(_load(name, plugins), "HELP", ""))
    except ImportError as error:
        return f"(cannot be loaded: {error})"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the subcommand, then hand the rest of the arguments to its module."""
    args = list(sys.argv[1:] if argv is None else argv)
    plugins = plugin_commands()
    top = argparse.ArgumentParser(
        prog="ens-image-operator",
        description="Manage Alibaba Cloud ENS custom images as Kubernetes resources.",
    )
    top.add_argument("--version", action="version", version=__version__)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if args and args[0] in KIT_COMMANDS and args[0] not in plugins:
        print(KIT_HINT.format(name=args[0]), file=sys.stderr)
        return 2
    if not args or (args[0] not in COMMANDS and args[0] not in plugins):
        for plugin in plugins:
            sub.add_parser(plugin, help=_plugin_help(plugin, plugins), add_help=False)
        top.parse_args(args)  # prints usage / --help / --version and exits
        return 2
    name, rest = args[0], args[1:]
    module = _load(name, plugins)
    description = COMMANDS.get(name) or str(getattr(module, "HELP", ""))
    parser = argparse.ArgumentParser(prog=f"ens-image-operator {name}", description=description)
    module.configure(parser)
    code: int = module.main(parser.parse_args(rest))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
