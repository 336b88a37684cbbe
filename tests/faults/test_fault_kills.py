"""Kill anywhere: SIGKILL the operator at seeded random moments while objects import, export and delete.

The cloud lists late (a new image stays invisible to DescribeSelfImages for LISTING_LAG seconds),
and every third object is deleted 0-3 s after its creation, mostly while its import is in flight.
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
    is_ready,
    leaks,
    make_stack,
    oss,
    record,
    scaled,
)

SEED = int(os.environ.get("ENS_FAULTS_SEED", "20261122"))
LISTING_LAG = 20.0
# A slow ImportImage widens the moment between recording the intent and recording the image id,
# where a kill leaves an import whose outcome only the cloud knows.
SLOW_IMPORT = {"action": "ImportImage", "code": None, "latency": 1.0}
# The operator's settle window covers the cloud's lag, with a margin for the two clocks.
OPERATOR = {"ENS_OPERATOR_LISTING_LAG": str(LISTING_LAG + 5)}


@dataclass
class Outcome:
    rounds: int = 0
    kills: int = 0
    kept: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    deleted_before_ready: int = 0
    images: list[dict[str, Any]] = field(default_factory=list)
    converge_error: str | None = None


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    rng = random.Random(SEED)
    stack = make_stack(tmp_path_factory.mktemp("kills"), OPERATOR)
    result = Outcome()
    try:
        stack.admin("POST", "config", {"listingLagSeconds": LISTING_LAG})
        stack.admin("POST", "faults", SLOW_IMPORT)
        stack.start_operator()
        kube = Kube(stack, "kills")
        names = [f"kill-{n:02d}" for n in range(scaled(9, 30))]
        doomed = names[2::3]
        exported = [name for name in names if name not in doomed][: scaled(2, 6)]
        rounds = scaled(5, 15)
        # One timeline of seeded moments: each doomed object's deletion 0-3 s after its creation,
        # and the kills, one per round; sleeping to reach a moment is not waiting for a result.
        start = time.monotonic()
        moments: list[tuple[float, str]] = []
        for name in names:
            assert kube.create(ens_image(name, source=oss(f"{name}.qcow2"))).status_code == 201
            if name in doomed:
                moments.append((time.monotonic() - start + rng.uniform(0.0, 3.0), name))
        for name in exported:
            assert kube.create(ens_export(f"{name}-exp", name)).status_code == 201
        kill_at = 0.0
        for _ in range(rounds):
            kill_at += rng.uniform(0.05, 1.5)
            moments.append((kill_at, ""))
        for moment, name in sorted(moments):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            if name:
                current = {item["metadata"]["name"]: item for item in kube.items("EnsImage")}
                result.deleted_before_ready += not is_ready(current.get(name, {}))
                kube.delete("EnsImage", name)
                continue
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
            converge(kube, ready, [("EnsImage", name) for name in doomed], timeout=scaled(120, 300))
        except AssertionError as error:
            result.converge_error = str(error)
        result.images = [image for image in emulator_images(stack) if image["ImageName"].startswith("kill-")]
        record(
            "kill anywhere",
            seed=SEED,
            objects=len(names),
            rounds=result.rounds,
            kills=result.kills,
            listing_lag=LISTING_LAG,
            deleted=len(doomed),
            deleted_before_ready=result.deleted_before_ready,
            deleted_with_an_image=len({i["ImageName"] for i in result.images} & set(doomed)),
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


def test_most_deletions_came_while_the_import_was_in_flight(outcome: Outcome) -> None:
    assert outcome.deleted_before_ready >= len(outcome.deleted) // 2


def test_every_kept_object_has_its_one_image(outcome: Outcome) -> None:
    live = {image["ImageName"] for image in outcome.images if not image.get("DeletedAt")}
    assert live == outcome.kept
