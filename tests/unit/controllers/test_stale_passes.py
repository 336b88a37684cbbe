"""A pass from a body the watch has superseded does nothing; a forced one (a change, a drift) runs."""

from __future__ import annotations

from typing import Any

import pytest

from ens_image_operator.api.kinds import ENS_IMAGE
from ens_image_operator.controllers import handlers
from ens_image_operator.controllers.kube import Connection, KubeApi
from ens_image_operator.controllers.operator import build_runtime
from ens_image_operator.controllers.runtime import Runtime
from ens_image_operator.reconcile.conditions import State, Verdict
from ens_image_operator.reconcile.driver import Outcome
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.settings import Settings

SPEC = {"imageId": "m-1"}


def _body(revision: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata = {"namespace": "ns", "name": "web", "uid": "u-1", "resourceVersion": revision, "generation": 1}
    return {"metadata": metadata, "spec": SPEC, "status": status or {}}


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> tuple[Runtime, list[str]]:
    runtime = build_runtime(Settings(), KubeApi(Connection(server="http://k8s")))
    seen: list[str] = []

    async def reconcile(view: Any, *_: Any) -> None:
        seen.append(str(view.status.get("ready", "-")))
        return None

    monkeypatch.setattr(runtime.images, "reconcile", reconcile)
    return runtime, seen


async def test_a_scheduler_pass_from_a_superseded_body_does_nothing(
    runtime: tuple[Runtime, list[str]],
) -> None:
    rt, seen = runtime
    rt.written.seen(_body("12", {"ready": "True"}))  # the watch delivered the handler's Ready write
    await handlers.run_pass(rt, ENS_IMAGE, _body("10", {"imageId": "m-1"}))
    assert seen == []


async def test_a_pass_from_a_body_older_than_our_undelivered_write_decides_from_the_write(
    runtime: tuple[Runtime, list[str]],
) -> None:
    rt, seen = runtime
    rt.written.record("u-1", _body("12", {"ready": "True"}))  # written, not delivered yet
    await handlers.run_pass(rt, ENS_IMAGE, _body("10"))
    assert seen == ["True"]


async def test_a_forced_pass_runs_from_its_body(runtime: tuple[Runtime, list[str]]) -> None:
    rt, seen = runtime
    rt.written.seen(_body("12", {"ready": "True"}))
    await handlers.run_pass(rt, ENS_IMAGE, _body("12", {"ready": "True"}), force=True)
    await handlers.run_pass(rt, ENS_IMAGE, _body("13", {"imageId": "m-1"}))
    assert seen == ["True", "-"]


async def test_a_pass_that_ended_ready_keeps_its_write_until_the_watch_delivers_it(
    runtime: tuple[Runtime, list[str]],
) -> None:
    # An adoption made Ready by its handler's pass, and the scheduler's pass from the body it took
    # before: that pass must see Ready, or it writes Ready and posts Available a second time.
    rt, seen = runtime
    rt.written.record("u-1", _body("12", {"ready": "True"}))
    ready = Outcome(Verdict(State.READY, "Available", "image m-1 is Available"))
    handlers._after_pass(rt, ENS_IMAGE, ObjectView.from_body(_body("12")), ready)
    await handlers.run_pass(rt, ENS_IMAGE, _body("10"))
    assert seen == ["True"]
    rt.written.seen(_body("12", {"ready": "True"}))
    assert len(rt.written) == 0
