"""health.lua gives the same status and message on gopher-lua (Argo CD's Lua) as on lupa, case by case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.gotest import go_test
from tests.health.argocd_health import CASES, HEALTH_LUA, lupa_health

MODULE = Path(__file__).resolve().parent / "lua"


@pytest.mark.timeout(600)
def test_gopher_lua_gives_what_lupa_gives_for_every_case(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    cases = []
    for case in CASES:
        status, message = lupa_health(case.obj)
        cases.append(
            {
                "name": case.name,
                "object": case.obj,
                "expected": {"status": case.status, "message": case.message},
                "lupa": {"status": status, "message": message},
            }
        )
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases, indent=2), encoding="utf-8")
    go_test(MODULE, pytestconfig, {"ENS_HEALTH_CASES": str(path), "ENS_HEALTH_LUA": str(HEALTH_LUA)})
