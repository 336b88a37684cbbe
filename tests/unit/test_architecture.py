"""Imports run one way: controllers → reconcile → ens; everything may import api.

The emulator and the sandbox are independent judges of the operator, so they import none of it.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "ens_image_operator"

# room -> modules (prefixes) it must never import
FORBIDDEN = {
    "ens": ("kopf", "kubernetes", "ens_image_operator.api", "ens_image_operator.reconcile",
            "ens_image_operator.controllers", "ens_image_operator.emulator", "ens_image_operator.sandbox"),
    "api": ("kopf", "kubernetes", "ens_image_operator.ens", "ens_image_operator.reconcile",
            "ens_image_operator.controllers"),
    "reconcile": ("kopf", "kubernetes", "ens_image_operator.controllers"),
    "emulator": ("kopf", "kubernetes", "ens_image_operator.ens", "ens_image_operator.api",
                 "ens_image_operator.reconcile", "ens_image_operator.controllers",
                 "ens_image_operator.sandbox"),
    "sandbox": ("kopf", "ens_image_operator.ens", "ens_image_operator.reconcile",
                "ens_image_operator.controllers", "ens_image_operator.emulator"),
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_a_room_never_imports_upward(room: str) -> None:
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / room).rglob("*.py"))
        for name in sorted(_imports(path))
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[room])
    ]
    assert offences == []


def test_the_rooms_checked_exist() -> None:
    for room in FORBIDDEN:
        assert any((PACKAGE / room).glob("*.py")), room
