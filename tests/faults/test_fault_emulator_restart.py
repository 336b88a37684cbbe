"""The cloud goes away and comes back: the emulator restarts from its state file mid-import."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faultkit import (
    Kube,
    converge,
    duplicates,
    emulator_images,
    ens_image,
    make_stack,
    oss,
    record,
    scaled,
    wait_until,
)


@dataclass
class Outcome:
    ids_before: dict[str, str] = field(default_factory=dict)
    ids_after: dict[str, str] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    converge_error: str | None = None
    operator_pid_before: int = 0
    operator_pid_after: int = 0
    operator_alive: bool = False


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    workdir = tmp_path_factory.mktemp("restart")
    stack = make_stack(workdir, state_file=workdir / "ens.db")
    result = Outcome()
    try:
        stack.admin("POST", "config", {"stepSeconds": 1.0})  # still importing when the restart comes
        stack.start_operator()
        assert stack.operator is not None
        result.operator_pid_before = stack.operator.process.pid
        kube = Kube(stack, "restart")
        names = [f"restart-{n}" for n in range(scaled(4, 16))]
        for name in names:
            assert kube.create(ens_image(name, source=oss(f"{name}.qcow2"))).status_code == 201

        def ids() -> dict[str, str]:
            return {
                item["metadata"]["name"]: str((item.get("status") or {}).get("imageId") or "")
                for item in kube.items("EnsImage")
            }

        wait_until(lambda: all(ids().get(name) for name in names), 30, lambda: f"image ids: {ids()}")
        result.ids_before = ids()
        stack.restart_emulator()
        try:
            converge(kube, [("EnsImage", name) for name in names], [], timeout=scaled(60, 120))
        except AssertionError as error:
            result.converge_error = str(error)
        result.ids_after = ids()
        result.images = [
            image for image in emulator_images(stack) if image["ImageName"].startswith("restart-")
        ]
        result.operator_alive = stack.operator.alive
        result.operator_pid_after = stack.operator.process.pid
        record("emulator restart", objects=len(names), converged=result.converge_error is None)
        yield result
    finally:
        stack.close()


def test_images_in_flight_survive_the_restart(outcome: Outcome) -> None:
    live = {image["ImageId"] for image in outcome.images if not image.get("DeletedAt")}
    assert set(outcome.ids_before.values()) <= live


def test_objects_keep_their_image_ids_across_the_restart(outcome: Outcome) -> None:
    assert outcome.ids_after == outcome.ids_before


def test_objects_converge_after_the_restart(outcome: Outcome) -> None:
    assert outcome.converge_error is None, outcome.converge_error


def test_the_operator_carries_on_without_restarting(outcome: Outcome) -> None:
    assert outcome.operator_alive and outcome.operator_pid_after == outcome.operator_pid_before


def test_nothing_is_imported_again_after_the_restart(outcome: Outcome) -> None:
    assert duplicates(outcome.images) == {}
