"""The README's configuration table is the one place users read settings from: keep it true."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ens_image_operator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ROWS = {
    match.group(1): [cell.strip().strip("`") for cell in match.group(0).strip("|").split("|")]
    for match in re.finditer(r"^\| (\w+) \|.*\|$", (ROOT / "README.md").read_text(), re.MULTILINE)
}
VALUES = yaml.safe_load((ROOT / "helm/ens-image-operator/values.yaml").read_text())


def _helm_value(path: str) -> Any:
    node: Any = VALUES
    for key in path.split("."):
        node = node[key]
    return node


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_row_with_its_environment_variable(name: str) -> None:
    assert name in ROWS, f"README configuration table lacks {name}"
    assert ROWS[name][1] == f"ENS_OPERATOR_{name.upper()}"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_helm_value_named_in_the_table_exists_in_values_yaml(name: str) -> None:
    for path in re.findall(r"[a-zA-Z]+(?:\.[a-zA-Z]+)*", ROWS[name][3]):
        _helm_value(path)


CHART_SETTINGS = sorted(n for n in Settings.model_fields if n in ROWS and ROWS[n][3].startswith("operator."))


@pytest.mark.parametrize("name", CHART_SETTINGS)
def test_helm_defaults_equal_the_operator_defaults(name: str) -> None:
    default = Settings.model_fields[name].get_default(call_default_factory=True)
    assert _helm_value(ROWS[name][3]) == default
