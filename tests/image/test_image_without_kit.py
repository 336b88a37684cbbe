"""The operator's image holds the operator distribution alone: no local kit, none of its dependencies.

The Dockerfile copies only ``pyproject.toml``, ``README.md`` and ``operator/ens_image_operator``;
these checks run commands inside the built image (as the chart's user, read-only root).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from imagekit import BuiltImage, run_in_image

pytestmark = pytest.mark.timeout(1200)  # a cold run builds the image first

# attrs (aiohttp's) and jsonpatch (kopf's) are dependencies of the operator's own dependencies,
# so they are in the image whatever the kit needs; these are the kit's alone.
KIT_ONLY = {"ens-image-operator-kit", "kmock", "cel-python", "rich"}
# The kit's modules under their new name and where they lived before the split: prints those found.
FIND_KIT_MODULES = (
    "import importlib.util as u; "
    "names = ['ens_image_kit', 'ens_image_operator.emulator', 'ens_image_operator.sandbox', "
    "'ens_image_operator.stack', 'ens_image_operator.commands.demo']; "
    "print(*[n for n in names if u.find_spec(n)])"
)


def test_no_kit_module_can_be_imported_in_the_image(
    operator_image: BuiltImage, rootfs: Path, tmp_path: Path
) -> None:
    result = run_in_image(rootfs, operator_image.config, ["python", "-c", FIND_KIT_MODULES], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


def test_the_image_has_none_of_the_kits_dependencies(
    operator_image: BuiltImage, rootfs: Path, tmp_path: Path
) -> None:
    result = run_in_image(
        rootfs, operator_image.config, ["python", "-m", "pip", "list", "--format=freeze"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    installed = {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() for line in result.stdout.split()}
    assert "ens-image-operator" in installed
    assert installed & KIT_ONLY == set()


def test_run_help_works_in_the_image(operator_image: BuiltImage, rootfs: Path, tmp_path: Path) -> None:
    result = run_in_image(rootfs, operator_image.config, ["ens-image-operator", "run", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--all-namespaces" in result.stdout


def test_demo_in_the_image_says_it_comes_with_the_kit(
    operator_image: BuiltImage, rootfs: Path, tmp_path: Path
) -> None:
    result = run_in_image(rootfs, operator_image.config, ["ens-image-operator", "demo"], tmp_path)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert "local kit" in result.stderr
