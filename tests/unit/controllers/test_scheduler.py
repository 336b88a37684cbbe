"""The one background task: passes for objects in flight, drift checks, the running-export lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from ens_image_operator.api.kinds import ENS_IMAGE, Kind
from ens_image_operator.controllers import scheduler
from ens_image_operator.ens.models import SelfImage
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.reconcile.timing import Backoffs

READY = [{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "x"}]
IMPORTING = [{"type": "Reconciling", "status": "True", "reason": "Importing", "lastTransitionTime": "x"}]


def _body(
    name: str, spec: Mapping[str, Any], status: Mapping[str, Any], namespace: str = "ns"
) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1}
    if status.get("conditions"):
        status = {"observedGeneration": 1, **status}
    return {"metadata": metadata, "spec": dict(spec), "status": dict(status)}


class Snapshots:
    def __init__(self, images: dict[str, SelfImage]) -> None:
        self.images = images
        self.reads = 0

    async def self_images(self, max_age: float | None = None) -> Mapping[str, SelfImage]:
        self.reads += 1
        return self.images

    async def all_self_images(self, max_age: float) -> Mapping[str, SelfImage]:
        self.reads += 1
        return self.images

    wanted: Any = None

    def want(self, ids: Any) -> None:
        self.wanted = ids


class Scopes:
    def __init__(self, images: dict[str, SelfImage]) -> None:
        self.snapshots = Snapshots(images)

    async def cloud_for(self, namespace: str, ref: str | None) -> Any:
        return SimpleNamespace(snapshots=self.snapshots)

    def scopes(self) -> list[Snapshots]:
        return [self.snapshots]


class Kube:
    async def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any]:
        return {"metadata": {"namespace": namespace, "name": name}}


def _runtime(
    images: dict[str, SelfImage], image_bodies: list[dict[str, Any]], exports: list[dict[str, Any]]
) -> Any:
    def key(body: dict[str, Any]) -> tuple[str, str]:
        return body["metadata"]["namespace"], body["metadata"]["name"]

    indexes = {
        scheduler.IMAGE_INDEX: {key(b): [scheduler.image_entry(b)] for b in image_bodies},
        scheduler.EXPORT_INDEX: {key(b): [scheduler.export_entry(b)] for b in exports},
    }
    backoffs = Backoffs(base=1.0, cap=60.0)
    return SimpleNamespace(indexes=indexes, scopes=Scopes(images), kube=Kube(), backoffs=backoffs)


def _recorder() -> tuple[list[str], list[str], Any]:
    """The one pass function, recording the names it was run for: EnsImages, then exports."""
    images: list[str] = []
    exports: list[str] = []

    async def run(runtime: Any, kind: Kind, body: Mapping[str, Any], *, force: bool = False) -> None:
        (images if kind is ENS_IMAGE else exports).append(body["metadata"]["name"])

    return images, exports, run


def test_a_stable_object_keeps_no_body_in_the_index() -> None:
    entry = scheduler.image_entry(_body("web", {"imageId": "m-1"}, {"imageId": "m-1", "conditions": READY}))
    assert entry.stable and entry.body is None


def test_an_object_in_flight_keeps_a_slim_body_without_heavy_annotations() -> None:
    body = _body("web", {"source": {}}, {"conditions": IMPORTING})
    body["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        "team": "a",
    }
    entry = scheduler.image_entry(body)
    assert entry.body is not None and entry.body["metadata"]["annotations"] == {"team": "a"}


async def test_only_objects_in_flight_get_a_pass_each_cycle() -> None:
    bodies = [
        _body("busy", {"source": {}}, {"conditions": IMPORTING}),
        _body("calm", {"imageId": "m-1"}, {"imageId": "m-1", "conditions": READY}),
    ]
    exports = [_body("exp", {"imageId": "m-1"}, {"conditions": IMPORTING})]
    images, exported, run = _recorder()
    assert await scheduler.poll_in_flight(_runtime({}, bodies, exports), run) == 2
    assert (images, exported) == (["busy"], ["exp"])


async def test_objects_sitting_out_a_backoff_get_no_pass_and_cost_no_listing() -> None:
    bodies = [
        _body(
            "waiting", {"source": {}}, {"imageId": "m-1", "imageStatus": "Creating", "conditions": IMPORTING}
        )
    ]
    runtime = _runtime({}, bodies, [])
    runtime.backoffs.defer("uid-waiting", asyncio.get_running_loop().time() + 60)
    passed, _, run = _recorder()
    assert await scheduler.poll_in_flight(runtime, run) == 0
    assert (passed, runtime.scopes.snapshots.reads) == ([], 0)


async def test_objects_whose_image_changed_in_ens_get_their_pass_first() -> None:
    bodies = [
        _body("same", {"source": {}}, {"imageId": "m-1", "imageStatus": "Creating", "conditions": IMPORTING}),
        _body("done", {"source": {}}, {"imageId": "m-2", "imageStatus": "Creating", "conditions": IMPORTING}),
    ]
    snapshot = {
        "m-1": SelfImage(image_id="m-1", status="Creating"),
        "m-2": SelfImage(image_id="m-2", status="Available"),
    }
    passed, _, run = _recorder()
    await scheduler.poll_in_flight(_runtime(snapshot, bodies, []), run)
    assert passed == ["done", "same"]


async def test_only_images_that_changed_in_ens_are_reconciled_again() -> None:
    bodies = [
        _body(
            "same", {"imageId": "m-1"}, {"imageId": "m-1", "imageStatus": "Available", "conditions": READY}
        ),
        _body(
            "gone", {"imageId": "m-2"}, {"imageId": "m-2", "imageStatus": "Available", "conditions": READY}
        ),
    ]
    passed, _, run = _recorder()
    runtime = _runtime({"m-1": SelfImage(image_id="m-1", status="Available")}, bodies, [])
    assert await scheduler.check_once(runtime, run) == 1
    assert passed == ["gone"]


def test_running_exports_of_an_image_are_found_by_reference_or_id() -> None:
    exports = [
        _body("by-ref", {"imageRef": {"name": "web"}}, {"startedAt": "t", "exportStatus": "Exporting"}),
        _body("by-id", {"imageId": "m-1"}, {"startedAt": "t", "exportStatus": "Exporting"}),
        _body("done", {"imageRef": {"name": "web"}}, {"startedAt": "t", "exportStatus": "Exported"}),
        _body("elsewhere", {"imageRef": {"name": "web"}}, {"startedAt": "t"}, namespace="other"),
    ]
    view = ObjectView("ns", "web", "uid-web", 1, {}, {})
    found = scheduler.running_exports(scheduler.export_entries(exports), view, "m-1")
    assert sorted(found) == ["ns/by-id", "ns/by-ref"]


def _running_scheduler(monkeypatch: Any, check_seconds: float) -> tuple[Any, list[float], list[float]]:
    """A scheduler over one stable image whose drift checks take ``check_seconds``; it records when
    each check started and when each fast cycle ran."""
    stable = _body(
        "calm", {"imageId": "m-1"}, {"imageId": "m-1", "imageStatus": "Available", "conditions": READY}
    )
    runtime = _runtime({"m-1": SelfImage(image_id="m-1", status="Available")}, [stable], [])
    runtime.gate = SimpleNamespace(active=True)
    runtime.settings = SimpleNamespace(fast_poll_interval=0.01, slow_poll_interval=600.0)
    checks: list[float] = []
    cycles: list[float] = []

    async def check_once(runtime: Any, run_pass: Any, max_age: float | None = None) -> int:
        checks.append(asyncio.get_running_loop().time())
        await asyncio.sleep(check_seconds)
        return 0

    async def poll_in_flight(runtime: Any, run_pass: Any) -> int:
        cycles.append(asyncio.get_running_loop().time())
        return 0

    monkeypatch.setattr(scheduler, "check_once", check_once)
    monkeypatch.setattr(scheduler, "poll_in_flight", poll_in_flight)
    return runtime, checks, cycles


@pytest.mark.looptime
async def test_a_restart_verifies_stable_images_once_the_index_is_filled_not_after_the_slow_interval(
    monkeypatch: Any,
) -> None:
    runtime, checks, _ = _running_scheduler(monkeypatch, check_seconds=0.0)
    _, _, run = _recorder()
    task = asyncio.create_task(scheduler.run(runtime, run))
    await asyncio.sleep(0.3)
    task.cancel()
    assert len(checks) == 1  # once, within a few cycles of the start; the next one after 600 s


@pytest.mark.looptime
async def test_a_long_drift_check_never_holds_the_cycle_of_the_passes_in_flight(monkeypatch: Any) -> None:
    # The check of a big account lists a hundred pages (10 s at 10 calls/s); imports go on meanwhile.
    runtime, checks, cycles = _running_scheduler(monkeypatch, check_seconds=10.0)
    _, _, run = _recorder()
    task = asyncio.create_task(scheduler.run(runtime, run))
    await asyncio.sleep(0.5)
    task.cancel()
    assert len(checks) == 1
    assert len([at for at in cycles if at > checks[0]]) >= 5  # a cycle every 0.05 s at least


@pytest.mark.looptime
async def test_the_first_drift_checks_listing_starts_while_the_index_still_fills(monkeypatch: Any) -> None:
    # kopf indexes 5000 objects in seconds; the 100-page listing need not wait for the last one.
    runtime, checks, _ = _running_scheduler(monkeypatch, check_seconds=0.0)
    listed: list[float] = []

    async def all_self_images(max_age: float) -> Mapping[str, SelfImage]:
        listed.append(asyncio.get_running_loop().time())
        return {}

    runtime.scopes.snapshots.all_self_images = all_self_images
    index = runtime.indexes[scheduler.IMAGE_INDEX]
    _, _, run = _recorder()
    task = asyncio.create_task(scheduler.run(runtime, run))
    for n in range(10):  # the index grows at every cycle (0.05 s) for a while
        await asyncio.sleep(0.03)
        stable = _body(
            f"more-{n}",
            {"imageId": "m-1"},
            {"imageId": "m-1", "imageStatus": "Available", "conditions": READY},
        )
        index[("ns", f"more-{n}")] = [scheduler.image_entry(stable)]
    await asyncio.sleep(0.3)
    task.cancel()
    assert len(checks) == 1 and len(listed) == 1
    assert listed[0] < checks[0] - 0.2  # listed at the first indexed object, checked once it settled
