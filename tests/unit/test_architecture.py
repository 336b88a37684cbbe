"""Imports run one way: controllers → reconcile → ens; everything may import api.

Two distributions: the operator (``operator/ens_image_operator``) never imports the local kit
(``operator/kit/ens_image_kit``); the kit reaches the operator only through its public modules.
The emulator and the sandbox are independent judges of the operator, so they import none of it.
"""

import ast
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[2] / "operator"
OPERATOR = SOURCES / "ens_image_operator"
KIT = SOURCES / "kit" / "ens_image_kit"

OP = "ens_image_operator"
TOP_LEVEL_MODULES = tuple(
    f"{OP}.{name}" for name in ("cli", "credentials_scope", "metrics", "poller", "settings")
)

# room -> the files it holds
ROOMS: dict[str, tuple[Path, ...]] = {
    "ens": tuple((OPERATOR / "ens").rglob("*.py")),
    "api": tuple((OPERATOR / "api").rglob("*.py")),
    "reconcile": tuple((OPERATOR / "reconcile").rglob("*.py")),
    "controllers": tuple((OPERATOR / "controllers").rglob("*.py")),
    "commands": tuple((OPERATOR / "commands").rglob("*.py")),
    "top-level": tuple(OPERATOR.glob("*.py")),  # __init__, cli, credentials_scope, metrics, poller, settings
    "kit-emulator": tuple((KIT / "emulator").rglob("*.py")),
    "kit-sandbox": tuple((KIT / "sandbox").rglob("*.py")),
    "kit-stack": tuple(KIT.glob("*.py")),  # stack.py and the package's __init__
    "kit-commands": tuple((KIT / "commands").rglob("*.py")),
}

# room -> modules (prefixes) it must never import
FORBIDDEN = {
    "ens": ("kopf", "kubernetes", "ens_image_kit", f"{OP}.api", f"{OP}.reconcile", f"{OP}.controllers",
            f"{OP}.commands", *TOP_LEVEL_MODULES),
    "api": ("kopf", "kubernetes", "ens_image_kit", f"{OP}.ens", f"{OP}.reconcile", f"{OP}.controllers",
            f"{OP}.commands", *TOP_LEVEL_MODULES),
    "reconcile": ("kopf", "kubernetes", "ens_image_kit", f"{OP}.controllers", f"{OP}.commands", f"{OP}.cli"),
    "controllers": ("ens_image_kit", f"{OP}.commands", f"{OP}.cli"),
    "commands": ("ens_image_kit",),
    "top-level": ("kopf", "kubernetes", "ens_image_kit", f"{OP}.controllers", f"{OP}.commands", f"{OP}.cli"),
    "kit-emulator": ("kopf", "kubernetes", OP, "ens_image_kit.sandbox", "ens_image_kit.stack",
                     "ens_image_kit.commands"),
    "kit-sandbox": ("kopf", "kubernetes", OP, "ens_image_kit.emulator", "ens_image_kit.stack",
                    "ens_image_kit.commands"),
    "kit-stack": ("ens_image_kit.commands",),
    "kit-commands": (),
}  # fmt: skip

# What the kit's stack and commands may import of the operator: its public surface. Anything else
# (reconcile, controllers, poller, ...) is the operator's own business and free to change.
PUBLIC = (
    OP,  # GROUP, VERSION, API_VERSION, __version__
    f"{OP}.api",
    f"{OP}.settings",
    f"{OP}.ens.client",
    f"{OP}.ens.credentials",
    f"{OP}.ens.errors",
    f"{OP}.ens.models",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_a_room_never_imports_upward(room: str) -> None:
    offences = [
        f"{path.relative_to(SOURCES)} imports {name}"
        for path in sorted(ROOMS[room])
        for name in sorted(_imports(path))
        if any(_within(name, banned) for banned in FORBIDDEN[room])
    ]
    assert offences == []


@pytest.mark.parametrize("room", ["kit-stack", "kit-commands"])
def test_the_kit_reaches_the_operator_only_through_its_public_modules(room: str) -> None:
    offences = [
        f"{path.relative_to(SOURCES)} imports {name}"
        for path in sorted(ROOMS[room])
        for name in sorted(_imports(path))
        if _within(name, OP) and name != OP and not any(_within(name, public) for public in PUBLIC[1:])
    ]
    assert offences == []


def test_the_operator_never_names_the_kit_package() -> None:
    """Not even as a string for importlib: the kit's commands arrive through entry points."""
    offences = [
        str(path.relative_to(SOURCES))
        for path in sorted(OPERATOR.rglob("*.py"))
        if "ens_image_kit" in path.read_text(encoding="utf-8")
    ]
    assert offences == []


def test_the_rooms_checked_exist() -> None:
    for room, files in ROOMS.items():
        assert files, room
    assert set(FORBIDDEN) == set(ROOMS)


def test_every_module_of_both_packages_is_in_a_room() -> None:
    in_rooms = {path for files in ROOMS.values() for path in files}
    every = set(OPERATOR.rglob("*.py")) | set(KIT.rglob("*.py"))
    assert sorted(str(path.relative_to(SOURCES)) for path in every - in_rooms) == []


def test_the_public_modules_exist() -> None:
    for module in PUBLIC:
        relative = Path(*module.split("."))
        assert (SOURCES / relative / "__init__.py").is_file() or (SOURCES / f"{relative}.py").is_file(), (
            module
        )
