"""The one loop around any driver: what it persists, in which order, and what a driver never does."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from reconcile_fakes import NOW, FakeEns, FakeObject, cloud_of, view

from ens_image_operator.api.export import EnsImageExportSpec, EnsImageExportStatus
from ens_image_operator.ens.errors import EnsError, Throttled, Transient
from ens_image_operator.reconcile.conditions import State, Verdict
from ens_image_operator.reconcile.driver import Created, Driver, Intent, Observation, Outcome, Pass
from ens_image_operator.reconcile.loop import Reconciler, finish
from ens_image_operator.reconcile.timing import Intervals

SPEC = {"imageId": "m-1", "ossBucket": "exports", "ossRegionId": "cn-beijing"}
DRIVERS = Path(__file__).resolve().parents[3] / "operator" / "ens_image_operator" / "reconcile"


class ToyDriver(Driver[EnsImageExportSpec, EnsImageExportStatus]):
    """Creates one thing, once; records what the loop asked of it."""

    spec_model = EnsImageExportSpec
    status_model = EnsImageExportStatus
    intent_fields = ("started_at",)
    creating = "Make"

    def __init__(self, log: list[str], fail: EnsError | None = None) -> None:
        super().__init__(Intervals(fast=1.0, slow=600.0))
        self.log = log
        self.fail = fail

    async def observe(self, p: Pass[EnsImageExportSpec, EnsImageExportStatus]) -> Observation:
        self.log.append(f"observe:{p.status.started_at or '-'}")
        if p.status.started_at:
            return Observation(Outcome(Verdict(State.PROGRESSING, "Making"), requeue=1.0))
        return Observation.absent(target="m-1")

    def intent(self, p: Pass[EnsImageExportSpec, EnsImageExportStatus], target: str | None) -> Intent:
        return Intent(EnsImageExportStatus(started_at="now"), undo=EnsImageExportStatus(started_at=None))

    async def create(self, p: Pass[EnsImageExportSpec, EnsImageExportStatus], target: str | None) -> Created:
        self.log.append("Make")
        if self.fail is not None:
            raise self.fail
        outcome = Outcome(
            Verdict(State.PROGRESSING, "Making"), EnsImageExportStatus(export_status="Exporting")
        )
        return Created(EnsImageExportStatus(image_id=target), outcome)


async def _pass(driver: ToyDriver, obj: FakeObject) -> Any:
    return await Reconciler(driver).reconcile(view(SPEC, obj.status), obj, cloud_of(FakeEns()), NOW)


async def test_the_loop_stores_the_intent_before_the_create_and_the_id_right_after() -> None:
    log: list[str] = []
    obj = FakeObject(log=log)
    outcome = await _pass(ToyDriver(log), obj)
    # The write right after the call carries the id (with the outcome's status: one write, not two).
    assert log[:4] == ["observe:-", "claim:startedAt", "patch:startedAt", "Make"]
    assert log[4].startswith("patch:") and "imageId" in log[4].removeprefix("patch:").split(",")
    assert len(log) == 5
    assert outcome.status == {"exportStatus": "Exporting"}


async def test_the_write_after_the_create_carries_the_outcome_so_finishing_writes_nothing_more() -> None:
    log: list[str] = []
    obj = FakeObject(log=log)
    v = view(SPEC, obj.status)
    outcome = await Reconciler(ToyDriver(log)).reconcile(v, obj, cloud_of(FakeEns()), NOW)
    assert obj.patches[-1]["imageId"] == "m-1" and obj.patches[-1]["exportStatus"] == "Exporting"
    assert {c["type"]: c["reason"] for c in obj.patches[-1]["conditions"]}["Reconciling"] == "Making"
    writes = len(obj.patches)
    await finish(v, obj, outcome, NOW)
    assert len(obj.patches) == writes  # no second write of the same status
    assert obj.event_reasons == ["Making"]  # the transition's event is still posted


async def test_an_intent_recorded_by_another_pass_is_observed_not_created_again() -> None:
    log: list[str] = []
    obj = FakeObject(log=log)
    stale = view(SPEC, {})  # read before the other pass stored its intent
    obj.status["startedAt"] = "earlier"
    outcome = await Reconciler(ToyDriver(log)).reconcile(stale, obj, cloud_of(FakeEns()), NOW)
    assert log == ["observe:-", "observe:earlier"]
    assert outcome.verdict.reason == "Making"


@pytest.mark.parametrize(
    "refusal", [Throttled("Throttling.User", http_status=400), EnsError("X", http_status=400)]
)
async def test_a_refused_create_undoes_its_intent(refusal: EnsError) -> None:
    obj = FakeObject()
    await _pass(ToyDriver([], fail=refusal), obj)
    assert "startedAt" not in obj.status


async def test_a_create_whose_answer_was_lost_keeps_its_intent_for_recovery() -> None:
    obj = FakeObject()
    lost = Transient("HTTPTimeout", maybe_applied=True)
    outcome = await _pass(ToyDriver([], fail=lost), obj)
    assert obj.status["startedAt"] == "now"
    assert (outcome.verdict.reason, outcome.verdict.message.split(":")[0]) == (
        "Retrying",
        "Make failed, retrying",
    )


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("driver", ["image.py", "export.py", "catalog.py"])
def test_a_driver_never_sees_the_object_handle_nor_the_loop(driver: str) -> None:
    imported = _imports(DRIVERS / driver)
    assert not {name for name in imported if name.endswith(".ObjectHandle") or ".loop." in name}
