"""The Argo CD health check (Lua, run here on Lua 5.1 like Argo CD's gopher-lua) maps conditions to health."""

from __future__ import annotations

from typing import Any

import lupa.lua51 as lua51
import pytest
import yaml
from chart_tools import MANIFESTS, REPO

HEALTH_LUA = MANIFESTS / "argocd" / "health.lua"


def to_lua(runtime: Any, value: Any) -> Any:
    """Convert decoded JSON the way Argo CD does: objects and arrays become tables, numbers floats."""
    if isinstance(value, dict):
        return runtime.table_from({key: to_lua(runtime, item) for key, item in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, item) for item in value])
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return float(value)


def health(obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = to_lua(runtime, obj)
    result = runtime.execute(HEALTH_LUA.read_text())
    return result["status"], result["message"]


def condition(kind: str, status: str, reason: str, message: str, generation: int = 2) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": generation,
    }


def ens_image(status: dict[str, Any] | None, generation: int = 2) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "ens.image-operator.io/v1alpha1",
        "kind": "EnsImage",
        "metadata": {"name": "ubuntu", "namespace": "default", "generation": generation},
        "spec": {"imageId": "m-5c2a0d3e9f"},
    }
    if status is not None:
        obj["status"] = status
    return obj


READY = condition("Ready", "True", "Available", "Image m-5c2a0d3e9f is Available")
NOT_READY = condition("Ready", "False", "Importing", "Import in progress (Creating)")
RECONCILING = condition("Reconciling", "True", "Importing", "ImportImage accepted; waiting for Available")
NOT_RECONCILING = condition("Reconciling", "False", "Available", "")
STALLED = condition("Stalled", "True", "ImportFailed", "ENS reports Pack_failed (RequestId R1)")
NOT_STALLED = condition("Stalled", "False", "Available", "")


def test_ready_at_the_current_generation_is_healthy() -> None:
    status = {"observedGeneration": 2, "conditions": [READY, NOT_RECONCILING, NOT_STALLED]}
    assert health(ens_image(status)) == ("Healthy", "Image m-5c2a0d3e9f is Available")


def test_ready_for_an_older_generation_is_progressing() -> None:
    status = {"observedGeneration": 1, "conditions": [READY, NOT_RECONCILING, NOT_STALLED]}
    state, message = health(ens_image(status, generation=2))
    assert state == "Progressing"
    assert "generation 2" in message


def test_stalled_is_degraded_with_its_message() -> None:
    failed = {**NOT_READY, "reason": "ImportFailed", "message": "import failed"}
    status = {"observedGeneration": 2, "conditions": [failed, NOT_RECONCILING, STALLED]}
    assert health(ens_image(status)) == ("Degraded", "ENS reports Pack_failed (RequestId R1)")


def test_stalled_for_an_older_generation_is_progressing() -> None:
    status = {"observedGeneration": 1, "conditions": [NOT_READY, NOT_RECONCILING, STALLED]}
    assert health(ens_image(status, generation=2))[0] == "Progressing"


def test_reconciling_is_progressing_with_its_message() -> None:
    status = {"observedGeneration": 2, "conditions": [NOT_READY, RECONCILING, NOT_STALLED]}
    assert health(ens_image(status)) == ("Progressing", "ImportImage accepted; waiting for Available")


def test_missing_status_is_progressing() -> None:
    assert health(ens_image(None)) == ("Progressing", "Waiting for the operator to report status")


def test_status_without_conditions_is_progressing() -> None:
    assert health(ens_image({"observedGeneration": 2}))[0] == "Progressing"


def test_empty_conditions_are_progressing() -> None:
    assert health(ens_image({"conditions": []}))[0] == "Progressing"


def test_ready_without_any_generation_is_healthy() -> None:
    obj = ens_image({"conditions": [READY]})
    del obj["metadata"]["generation"]
    assert health(obj)[0] == "Healthy"


def test_argocd_cm_carries_health_lua_for_every_kind_verbatim() -> None:
    config = yaml.safe_load((MANIFESTS / "argocd" / "argocd-cm.yaml").read_text())
    kinds = []
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        kinds.append(f"{crd['spec']['group']}_{crd['spec']['names']['kind']}")
    expected = {f"resource.customizations.health.{kind}": HEALTH_LUA.read_text() for kind in kinds}
    assert config["data"] == expected


@pytest.mark.parametrize("kind", ["EnsImage", "EnsImageExport", "EnsImageCatalog"])
def test_every_kind_gets_the_same_verdict(kind: str) -> None:
    obj = ens_image({"observedGeneration": 2, "conditions": [NOT_READY, NOT_RECONCILING, STALLED]})
    obj["kind"] = kind
    assert health(obj)[0] == "Degraded"
