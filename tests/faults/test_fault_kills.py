"""Kill anywhere: SIGKILL the operator at seeded random moments while objects import, export and delete.

One scenario runs per module; each test checks one promise about its outcome through the
emulator's admin API. ENS_FAULTS_SEED picks other moments; ENS_FAULTS_SCALE=large runs more rounds.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faultkit import (
    Kube,
    converge,
    duplicates,
    emulator_images,
    ens_export,
    ens_image,
    leaks,
    make_stack,
    oss,
    record,
    scaled,
)

SEED = int(os.environ.get("ENS_FAULTS_SEED", "20261122"))


@dataclass
class Outcome:
    rounds: int = 0
    kills: int = 0
    kept: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    images: list[dict[str, Any]] = field(default_factory=list)
    converge_error: str | None = None


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    rng = random.Random(SEED)
    stack = make_stack(tmp_path_factory.mktemp("kills"))
    result = Outcome()
    try:
        stack.start_operator()
        kube = Kube(stack, "kills")
        names = [f"kill-{n:02d}" for n in range(scaled(8, 30))]
        exported = names[: scaled(2, 6)]
        doomed = names[-scaled(3, 10) :]
        for name in names:
            assert kube.create(ens_image(name, source=oss(f"{name}.qcow2"))).status_code == 201
        for name in exported:
            assert kube.create(ens_export(f"{name}-exp", name)).status_code == 201
        rounds = scaled(5, 15)
        for round_ in range(rounds):
            time.sleep(rng.uniform(0.05, 1.5))  # the moment of the crash, not a wait for a result
            if round_ == 1:
                for name in doomed:  # deletions in flight from now on, killed like the rest
                    kube.delete("EnsImage", name)
                time.sleep(rng.uniform(0.0, 0.5))
            stack.kill_operator()
            result.kills += 1
            stack.start_operator()
            result.rounds += 1
        result.kept = set(names) - set(doomed)
        result.deleted = set(doomed)
        ready = [("EnsImage", name) for name in result.kept] + [
            ("EnsImageExport", f"{n}-exp") for n in exported
        ]
        try:
            converge(kube, ready, [("EnsImage", name) for name in doomed], timeout=scaled(90, 240))
        except AssertionError as error:
            result.converge_error = str(error)
        result.images = [image for image in emulator_images(stack) if image["ImageName"].startswith("kill-")]
        record(
            "kill anywhere",
            seed=SEED,
            objects=len(names),
            rounds=result.rounds,
            kills=result.kills,
            images_created=len(result.images),
            duplicates=len(duplicates(result.images)),
            leaks=len(leaks(result.images, result.kept)),
            converged=result.converge_error is None,
        )
        yield result
    finally:
        stack.close()


def test_the_operator_was_killed_in_every_round(outcome: Outcome) -> None:
    assert outcome.kills == outcome.rounds == scaled(5, 15)


def test_every_object_converges_after_the_kills(outcome: Outcome) -> None:
    assert outcome.converge_error is None, outcome.converge_error


def test_no_object_gets_two_images(outcome: Outcome) -> None:
    assert duplicates(outcome.images) == {}


def test_no_image_outlives_its_deleted_object(outcome: Outcome) -> None:
    assert leaks(outcome.images, outcome.kept) == []


def test_every_kept_object_has_its_one_image(outcome: Outcome) -> None:
    live = {image["ImageName"] for image in outcome.images if not image.get("DeletedAt")}
    assert live == outcome.kept
