"""The Argo CD health check (Lua, run here on Lua 5.1 like Argo CD's gopher-lua) maps conditions to health.

The cases live in ``tests/health/argocd_health.py``; ``tests/health/test_gopher_lua.py`` runs the
same cases on gopher-lua, the interpreter Argo CD embeds, and requires the same answers.
"""

from __future__ import annotations

import pytest
import yaml
from chart_tools import MANIFESTS, REPO
from tests.health.argocd_health import CASES, HEALTH_LUA, Case, lupa_health


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_health_of_each_case(case: Case) -> None:
    assert lupa_health(case.obj) == (case.status, case.message)


def test_cases_have_distinct_names() -> None:
    assert len({case.name for case in CASES}) == len(CASES)


def test_argocd_cm_carries_health_lua_for_every_kind_verbatim() -> None:
    config = yaml.safe_load((MANIFESTS / "argocd" / "argocd-cm.yaml").read_text())
    kinds = []
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        kinds.append(f"{crd['spec']['group']}_{crd['spec']['names']['kind']}")
    expected = {f"resource.customizations.health.{kind}": HEALTH_LUA.read_text() for kind in kinds}
    assert config["data"] == expected
