"""The background drift check and the export index that holds deletions back."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from ens_image_operator.controllers import drift
from ens_image_operator.ens.models import SelfImage
from ens_image_operator.reconcile.ports import ObjectView

READY = [{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "x"}]


def _view(name: str, spec: Mapping[str, Any], status: Mapping[str, Any], namespace: str = "ns") -> ObjectView:
    return ObjectView(namespace, name, f"uid-{name}", 1, dict(spec), dict(status))


class Snapshots:
    def __init__(self, images: dict[str, SelfImage]) -> None:
        self.images = images

    async def self_images(self) -> Mapping[str, SelfImage]:
        return self.images


class Scopes:
    def __init__(self, images: dict[str, SelfImage]) -> None:
        self.snapshots = Snapshots(images)

    async def cloud_for(self, namespace: str, ref: str | None) -> Any:
        return SimpleNamespace(snapshots=self.snapshots)


class Kube:
    async def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any]:
        return {"metadata": {"namespace": namespace, "name": name}}


def _runtime(
    images: dict[str, SelfImage], image_views: list[ObjectView], export_views: list[ObjectView]
) -> Any:
    indexes = {
        drift.IMAGE_INDEX: {(v.namespace, v.name): [drift.image_entry(v)] for v in image_views},
        drift.EXPORT_INDEX: {(v.namespace, v.name): [drift.export_entry(v)] for v in export_views},
    }
    return SimpleNamespace(indexes=indexes, scopes=Scopes(images), kube=Kube())


def _image(image_id: str, status: str) -> SelfImage:
    return SelfImage(image_id=image_id, status=status)


async def test_only_images_that_changed_in_ens_are_reconciled_again() -> None:
    views = [
        _view(
            "same", {"imageId": "m-1"}, {"imageId": "m-1", "imageStatus": "Available", "conditions": READY}
        ),
        _view(
            "gone", {"imageId": "m-2"}, {"imageId": "m-2", "imageStatus": "Available", "conditions": READY}
        ),
    ]
    passed: list[str] = []

    async def image_pass(runtime: Any, body: Mapping[str, Any], *, force: bool = False) -> None:
        passed.append(body["metadata"]["name"])

    runtime = _runtime({"m-1": _image("m-1", "Available")}, views, [])
    assert await drift.check_once(runtime, image_pass) == 1
    assert passed == ["gone"]


async def test_objects_not_yet_ready_are_left_to_their_timers() -> None:
    in_flight = _view("busy", {"source": {}}, {"imageId": "m-3", "imageStatus": "Packing"})
    passed: list[str] = []

    async def image_pass(runtime: Any, body: Mapping[str, Any], *, force: bool = False) -> None:
        passed.append(body["metadata"]["name"])

    assert await drift.check_once(_runtime({}, [in_flight], []), image_pass) == 0
    assert passed == []


def test_running_exports_of_an_image_are_found_by_reference_or_id() -> None:
    exports = [
        _view("by-ref", {"imageRef": {"name": "web"}}, {"startedAt": "t", "exportStatus": "Exporting"}),
        _view("by-id", {"imageId": "m-1"}, {"startedAt": "t", "exportStatus": "Exporting"}),
        _view("done", {"imageRef": {"name": "web"}}, {"startedAt": "t", "exportStatus": "Exported"}),
        _view("elsewhere", {"imageRef": {"name": "web"}}, {"startedAt": "t"}, namespace="other"),
    ]
    runtime = _runtime({}, [], exports)
    found = drift.running_exports(runtime, _view("web", {}, {}), "m-1")
    assert sorted(found) == ["ns/by-id", "ns/by-ref"]
