"""`make demo` is the first thing a new user runs: it must reach all-Ready on its own and say so."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KINDS = {"EnsImage", "EnsImageExport", "EnsImageCatalog"}


def _example_objects() -> int:
    docs = [doc for path in EXAMPLES.glob("*.yaml") for doc in yaml.safe_load_all(path.read_text()) if doc]
    return sum(1 for doc in docs if doc.get("kind") in KINDS)


def test_demo_runs_every_example_to_ready_and_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ens_image_operator.cli", "demo", "--timeout", "120",
         "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "140"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    expected = _example_objects()
    assert expected >= 4
    assert f"All {expected} objects Ready" in result.stdout
    for kind in KINDS:
        assert kind in result.stdout


def test_demo_times_out_with_a_clear_message_and_nonzero_exit(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "never-ready.yaml").write_text(
        "apiVersion: ens.image-operator.io/v1alpha1\n"
        "kind: EnsImageExport\n"
        "metadata:\n  name: waits-forever\n"
        "spec:\n  imageRef:\n    name: no-such-image\n  ossBucket: bkt\n  ossRegionId: cn-beijing\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "ens_image_operator.cli", "demo", "--examples", str(examples),
         "--timeout", "5", "--workdir", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Timed out" in result.stdout
    assert "waits-forever" in result.stdout
