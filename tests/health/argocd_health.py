"""The Argo CD health check's fixtures, one list for both interpreters, and its runner on lupa.

``tests/chart/test_argocd_health.py`` holds lupa (Lua 5.1) to the expected health of every case;
``tests/health/test_gopher_lua.py`` hands the same cases and lupa's answers to the Go test in
``tests/health/lua``, which runs health.lua on gopher-lua the way Argo CD does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51

REPO = Path(__file__).resolve().parents[2]
HEALTH_LUA = REPO / "manifests" / "argocd" / "health.lua"


def to_lua(runtime: Any, value: Any) -> Any:
    """Convert decoded JSON the way Argo CD does: objects and arrays become tables, numbers floats."""
    if isinstance(value, dict):
        return runtime.table_from({key: to_lua(runtime, item) for key, item in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, item) for item in value])
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return float(value)


def lupa_health(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) of health.lua for ``obj``, run on lupa's Lua 5.1."""
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


def ens_image(
    status: dict[str, Any] | None, generation: int | None = 2, kind: str = "EnsImage"
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "ubuntu", "namespace": "default"}
    if generation is not None:
        metadata["generation"] = generation
    obj: dict[str, Any] = {
        "apiVersion": "ens.image-operator.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": {"imageId": "m-5c2a0d3e9f"},
    }
    if status is not None:
        obj["status"] = status
    return obj


READY = condition("Ready", "True", "Available", "Image m-5c2a0d3e9f is Available")
NOT_READY = condition("Ready", "False", "Importing", "Import in progress (Creating)")
BARE_STALLED = {"type": "Stalled", "status": "True", "reason": "QuotaExceeded"}
FAILED = {**NOT_READY, "reason": "ImportFailed", "message": "import failed"}
RECONCILING = condition("Reconciling", "True", "Importing", "ImportImage accepted; waiting for Available")
NOT_RECONCILING = condition("Reconciling", "False", "Available", "")
STALLED = condition("Stalled", "True", "ImportFailed", "ENS reports Pack_failed (RequestId R1)")
NOT_STALLED = condition("Stalled", "False", "Available", "")
PAUSED = condition("Reconciling", "False", "Paused", "paused by the annotation ens.image-operator.io/paused")


@dataclass(frozen=True)
class Case:
    """An object and the health Argo CD must report for it."""

    name: str
    obj: dict[str, Any]
    status: str
    message: str


CASES = [
    Case(
        "ready at the current generation is healthy",
        ens_image({"observedGeneration": 2, "conditions": [READY, NOT_RECONCILING, NOT_STALLED]}),
        "Healthy",
        "Image m-5c2a0d3e9f is Available",
    ),
    Case(
        "ready for an older generation is progressing",
        ens_image({"observedGeneration": 1, "conditions": [READY, NOT_RECONCILING, NOT_STALLED]}),
        "Progressing",
        "Waiting for the operator to act on generation 2",
    ),
    Case(
        "stalled is degraded with its message",
        ens_image({"observedGeneration": 2, "conditions": [FAILED, NOT_RECONCILING, STALLED]}),
        "Degraded",
        "ENS reports Pack_failed (RequestId R1)",
    ),
    Case(
        "stalled for an older generation is progressing",
        ens_image({"observedGeneration": 1, "conditions": [NOT_READY, NOT_RECONCILING, STALLED]}),
        "Progressing",
        "Waiting for the operator to act on generation 2",
    ),
    Case(
        "reconciling is progressing with its message",
        ens_image({"observedGeneration": 2, "conditions": [NOT_READY, RECONCILING, NOT_STALLED]}),
        "Progressing",
        "ImportImage accepted; waiting for Available",
    ),
    Case(
        "not ready and not reconciling is progressing with the ready message",
        ens_image({"observedGeneration": 2, "conditions": [NOT_READY, NOT_RECONCILING, NOT_STALLED]}),
        "Progressing",
        "Import in progress (Creating)",
    ),
    Case(
        "paused is suspended, whatever Ready says",
        ens_image({"observedGeneration": 2, "conditions": [READY, PAUSED, NOT_STALLED]}),
        "Suspended",
        "paused by the annotation ens.image-operator.io/paused",
    ),
    Case(
        "paused with a spec the operator has not acted on is suspended",
        ens_image({"observedGeneration": 1, "conditions": [READY, PAUSED, NOT_STALLED]}),
        "Suspended",
        "paused by the annotation ens.image-operator.io/paused",
    ),
    Case(
        "missing status is progressing",
        ens_image(None),
        "Progressing",
        "Waiting for the operator to report status",
    ),
    Case(
        "status without conditions is progressing",
        ens_image({"observedGeneration": 2}),
        "Progressing",
        "Waiting for the operator to report status",
    ),
    Case(
        "empty conditions are progressing",
        ens_image({"conditions": []}),
        "Progressing",
        "Waiting for the object to become Ready",
    ),
    Case(
        "ready without any generation is healthy",
        ens_image({"conditions": [READY]}, generation=None),
        "Healthy",
        "Image m-5c2a0d3e9f is Available",
    ),
    Case(
        "stalled without a message is degraded with its reason",
        ens_image({"observedGeneration": 2, "conditions": [BARE_STALLED]}),
        "Degraded",
        "QuotaExceeded",
    ),
    *(
        Case(
            f"a stalled {kind} gets the same verdict",
            ens_image(
                {"observedGeneration": 2, "conditions": [NOT_READY, NOT_RECONCILING, STALLED]}, kind=kind
            ),
            "Degraded",
            "ENS reports Pack_failed (RequestId R1)",
        )
        for kind in ("EnsImage", "EnsImageExport", "EnsImageCatalog")
    ),
]
