"""Two distributions: the operator's wheel carries none of the local kit and runs without it.

The wheel is built the way the Dockerfile builds it: from ``pyproject.toml``, ``README.md`` and
``operator/ens_image_operator`` alone, offline (the venv's setuptools, no build isolation). It is
then installed into a fresh venv (dependencies from the package index or pip's cache) and run there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_SOURCES = ("pyproject.toml", "README.md", "operator/ens_image_operator")
KIT_ONLY = {"kmock", "cel-python", "jsonpatch", "attrs", "rich"}
# Of those, attrs (aiohttp's) and jsonpatch (kopf's) stay installed as dependencies of dependencies.
NOT_INSTALLED = {"ens-image-operator-kit", "kmock", "cel-python", "rich"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _canonical(match.group(1))


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let a child see this repository or venv."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {key: value for key, value in os.environ.items() if key not in drop}


@pytest.fixture(scope="module")
def operator_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("operator-source")
    for item in OPERATOR_SOURCES:
        origin, target = ROOT / item, source / item
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(origin, target)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        check=True,
        cwd=source,
        env=_clean_env(),
        timeout=120,
    )  # fmt: skip
    (wheel,) = out.glob("ens_image_operator-*.whl")
    return wheel


@pytest.fixture(scope="module")
def production_venv(operator_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the operator's wheel and its dependencies, nothing else."""
    venv = tmp_path_factory.mktemp("production") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    # This venv's pip installs into the new one: no ensurepip, so seconds instead of tens of them.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
         "--disable-pip-version-check", str(operator_wheel)],
        check=True,
        env=_clean_env(),
        timeout=300,
    )  # fmt: skip
    return venv


def _run(venv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=venv,
        env=_clean_env(),
    )


def test_the_operator_wheel_holds_only_the_operator_package(operator_wheel: Path) -> None:
    names = zipfile.ZipFile(operator_wheel).namelist()
    assert "ens_image_operator/cli.py" in names
    assert [
        name for name in names if not name.startswith(("ens_image_operator/", "ens_image_operator-"))
    ] == []
    assert [name for name in names if re.search(r"ens_image_kit|/emulator/|/sandbox/|stack\.py", name)] == []


def test_the_operator_wheel_requires_none_of_the_kits_dependencies(operator_wheel: Path) -> None:
    with zipfile.ZipFile(operator_wheel) as wheel:
        (metadata,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(wheel.read(metadata).decode())
    runtime = {
        _requirement_name(requirement)
        for requirement in message.get_all("Requires-Dist") or []
        if "extra ==" not in requirement
    }
    assert "kopf" in runtime
    assert runtime & KIT_ONLY == set()
    assert "ens-image-operator-kit" not in runtime


def test_the_kit_depends_on_the_operator_at_the_same_version() -> None:
    operator = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    kit = tomllib.loads((ROOT / "operator" / "kit" / "pyproject.toml").read_text())["project"]
    assert kit["version"] == operator["version"]
    assert f"ens-image-operator=={operator['version']}" in kit["dependencies"]
    assert {_requirement_name(requirement) for requirement in kit["dependencies"]} >= KIT_ONLY
    assert set(kit["entry-points"]["ens_image_operator.commands"]) == {"demo", "emulator", "sandbox"}


def test_the_dockerfile_copies_only_the_operator_distribution() -> None:
    copies = [
        line.split()[1:-1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
    ]
    sources = {source.rstrip("/") for sources in copies for source in sources}
    assert sources == set(OPERATOR_SOURCES)


def test_the_installed_wheel_runs_the_operator_without_the_kit(production_venv: Path) -> None:
    result = _run(production_venv, "ens-image-operator", "run", "--help")
    assert result.returncode == 0, result.stderr
    assert "--all-namespaces" in result.stdout


def test_the_installed_wheel_points_demo_at_the_kit_in_one_line(production_venv: Path) -> None:
    result = _run(production_venv, "ens-image-operator", "demo")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "local kit" in result.stderr
    assert "pip install -e operator/kit" in result.stderr


def test_the_production_venv_has_neither_the_kit_nor_its_dependencies(production_venv: Path) -> None:
    for module in ("ens_image_kit", "ens_image_operator.emulator", "ens_image_operator.stack"):
        assert _run(production_venv, "python", "-c", f"import {module}").returncode != 0, module
    listing = _run(
        production_venv, "python", "-c",
        "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))",
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    installed = {_canonical(name) for name in listing.stdout.split()}
    assert "ens-image-operator" in installed
    assert installed & NOT_INSTALLED == set()
