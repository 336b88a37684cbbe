"""The operator packages into a wheel whose console script works, and the Dockerfile builds a safe image."""

from __future__ import annotations

import json
import shlex
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from chart_tools import CHART, REPO

from ens_image_operator.settings import Settings

DOCKERFILE = REPO / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(index for index, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the freshly built wheel installed; returns its bin directory.

    Dependencies come from the development environment (a path entry, not an install) so the test
    needs no network; the operator package itself must come from the wheel.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "operator", source / "operator", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("ens_image_operator-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    venv_python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", purelib, str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    (Path(purelib) / "development-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    # `pip install --target` does not write console scripts: make the one the wheel declares.
    entry_points = next(Path(purelib).glob("ens_image_operator-*.dist-info")) / "entry_points.txt"
    module, _, function = entry_points.read_text().split("ens-image-operator = ")[1].strip().partition(":")
    script = venv / "bin" / "ens-image-operator"
    script.write_text(
        f"#!{venv_python}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n"
    )
    script.chmod(0o755)
    return venv / "bin"


def test_wheel_console_script_shows_help(installed_wheel: Path) -> None:
    done = subprocess.run(
        [str(installed_wheel / "ens-image-operator"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "run" in done.stdout


def test_wheel_run_subcommand_knows_its_namespace_flags(installed_wheel: Path) -> None:
    done = subprocess.run(
        [str(installed_wheel / "ens-image-operator"), "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--namespace" in done.stdout
    assert "--all-namespaces" in done.stdout


def test_wheel_is_what_the_fresh_environment_imports(installed_wheel: Path) -> None:
    where = subprocess.run(
        [
            str(installed_wheel / "python"),
            "-c",
            "import ens_image_operator; print(ens_image_operator.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(installed_wheel.parent)


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    steps = instructions(DOCKERFILE.read_text())
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) >= 2
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    assert final_stage()[0] == ("FROM", "${PYTHON_IMAGE}")


def test_dockerfile_runs_as_a_numeric_non_root_user_matching_the_chart() -> None:
    (user,) = [args for word, args in final_stage() if word == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert gid.isdigit() and int(gid) > 0
    pod = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid))


def test_dockerfile_entrypoint_is_the_run_subcommand() -> None:
    (entrypoint,) = [args for word, args in final_stage() if word == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["ens-image-operator", "run"]


def test_final_image_installs_wheels_only_without_cache_or_compilers() -> None:
    runs = " ".join(args for word, args in final_stage() if word == "RUN")
    assert "apt-get" not in runs and "gcc" not in runs and "build-essential" not in runs
    words = shlex.split(runs)
    assert "--no-cache-dir" in words
    assert "--no-index" in words
    assert not [args for word, args in final_stage() if word in ("COPY", "ADD")]


def test_dockerfile_exposes_the_default_ports() -> None:
    (exposed,) = [args for word, args in final_stage() if word == "EXPOSE"]
    defaults = Settings.model_fields
    assert sorted(int(port) for port in exposed.split()) == [
        defaults["metrics_port"].default,
        defaults["health_port"].default,
    ]


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".cache", "tests"} <= ignored
    assert not {"operator", "pyproject.toml", "README.md"} & ignored
