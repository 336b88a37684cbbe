"""Status is written through the typed models: a misspelt field is a type error, not a pruned key."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api as mypy_api

from ens_image_operator.api.image import EnsImageStatus

ROOT = Path(__file__).resolve().parents[3]


def _type_check(tmp_path: Path, source: str) -> tuple[str, int]:
    module = tmp_path / "status_write.py"
    module.write_text(source, encoding="utf-8")
    config = str(ROOT / "pyproject.toml")
    out, err, code = mypy_api.run(["--config-file", config, "--no-incremental", str(module)])
    return out + err, code


def test_a_misspelt_status_field_fails_the_type_check_and_a_correct_one_passes(tmp_path: Path) -> None:
    source = (
        "from ens_image_operator.api.image import EnsImageStatus\n"
        "EnsImageStatus(image_id='m-1')\n"
        "EnsImageStatus(imageid='m-1')\n"
    )
    report, code = _type_check(tmp_path, source)
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert code == 1 and len(errors) == 1, report
    assert ':3: error: Unexpected keyword argument "imageid"' in errors[0], report


def test_setting_a_misspelt_field_on_a_status_raises() -> None:
    status = EnsImageStatus()
    with pytest.raises(ValueError, match="imageid"):
        status.imageid = "m-1"  # type: ignore[attr-defined]


def test_a_partial_status_patches_only_what_it_sets_and_none_removes() -> None:
    assert EnsImageStatus(image_id="m-1", import_started_at=None).to_patch() == {
        "imageId": "m-1",
        "importStartedAt": None,
    }
