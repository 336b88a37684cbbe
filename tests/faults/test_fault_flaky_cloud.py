"""Flaky cloud: about 30 % of ENS calls fail, and every object still converges without a call storm.

The same scenario (imports, exports of some, deletion of others) runs twice on one stack: first
without faults, to count the calls it needs, then with names of its own under injected faults —
throttling with Retry-After, 503, 500, timeouts (latency past the client's timeout) and dropped
connections, some after the operation took effect — while the local Kubernetes API answers some of
the operator's status writes with 404, 409, 429 (with Retry-After), 500 or no answer at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from faultkit import (
    LARGE,
    Kube,
    converge,
    duplicates,
    emulator_images,
    ens_export,
    ens_image,
    make_stack,
    oss,
    record,
    scaled,
)

from ens_image_kit.stack import LocalStack

RETRY_AFTER_MS = 300
EACH = 0.07  # five rules at 7 % each: 1 - 0.93**5 ≈ 30 % of calls fail
FAULTS = [
    {"action": "*", "rate": EACH, "code": "Throttling.User", "status": 400, "retryAfterMs": RETRY_AFTER_MS},
    {"action": "*", "rate": EACH, "code": "ServiceUnavailable", "status": 503},
    {"action": "*", "rate": EACH, "code": "InternalError", "status": 500},
    # Past the client's 1.5 s timeout; then the connection is closed, answer or not.
    {"action": "*", "rate": EACH, "code": None, "latency": 2.0, "drop": True},
    {"action": "*", "rate": EACH, "drop": True, "after": True},
]
# The operator's status writes in the flaky namespace; the test's own creates and deletes are spared.
STATUS_WRITES = "/namespaces/flaky/ensimage(s|exports)/[^/]+/status$"
KUBE_EACH = 0.03
KUBE_FAULTS = [
    {"method": "PATCH", "path": STATUS_WRITES, "rate": KUBE_EACH, "code": 429, "retryAfter": 1},
    {"method": "PATCH", "path": STATUS_WRITES, "rate": KUBE_EACH, "code": 500},
    {"method": "PATCH", "path": STATUS_WRITES, "rate": KUBE_EACH, "code": 409},
    {"method": "PATCH", "path": STATUS_WRITES, "rate": KUBE_EACH, "code": 404},
    {"method": "PATCH", "path": STATUS_WRITES, "rate": KUBE_EACH, "drop": True},
    {"method": "PATCH", "path": STATUS_WRITES, "rate": KUBE_EACH, "drop": True, "after": True},
]
FAULT_RATE = 1 - (1 - EACH) ** len(FAULTS)
# Answers that are not failures: ENS saying an image the operator deletes is gone.
ABSENCE_ANSWERS = {"DeleteImage": ("ImageId.NotFound",)}
# The goal for calls against a calm run is 2x: the large run measures 1.8-2.1x, the small one
# 2.5-3.2x (a few dozen calls, see docs/performance.md, "Known miss"). The bounds keep it from
# getting worse without failing on the spread between runs.
AMPLIFICATION_BOUND = 2.5 if LARGE else 4.0


@dataclass
class Run:
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    converge_error: str | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    kube_faults: int = 0

    @property
    def total(self) -> int:
        return sum(sum(codes.values()) for codes in self.calls.values())

    @property
    def failed(self) -> int:
        """Calls a fault rule fired on."""
        return sum(1 for entry in self.log if entry["injected"])

    @property
    def own_failures(self) -> list[dict[str, Any]]:
        """Failed calls that no fault rule caused: the operator asking for what ENS refuses.

        DeleteImage answered ImageId.NotFound is not one: it is how a delete proves the image gone.
        """

        def answered(entry: dict[str, Any]) -> bool:
            return entry["code"] == "OK" or entry["code"] in ABSENCE_ANSWERS.get(entry["action"], ())

        return [entry for entry in self.log if not entry["injected"] and not answered(entry)]

    @property
    def by_name_lookups(self) -> int:
        """DescribeSelfImages by ImageName: the reconciler looking for an import it may have lost."""
        return sum(
            1 for e in self.log if e["action"] == "DescribeSelfImages" and e["params"].get("ImageName")
        )

    @property
    def by_action(self) -> dict[str, int]:
        """Calls per ENS action, failed attempts included."""
        return {action: sum(codes.values()) for action, codes in sorted(self.calls.items())}

    @property
    def seconds(self) -> float:
        stamps = [entry["monotonic"] for entry in self.log]
        return max(stamps) - min(stamps) if stamps else 0.0


def scenario(stack: LocalStack, prefix: str, timeout: float) -> Run:
    """Create, export, delete; wait for it all; the emulator's counters and log of that span."""
    kube = Kube(stack, prefix)
    names = [f"{prefix}-{n:02d}" for n in range(scaled(6, 24))]
    exported, doomed = names[:2], names[-scaled(2, 8) :]
    stack.admin("DELETE", "calls")
    run = Run()
    for name in names:
        assert kube.create(ens_image(name, source=oss(f"{name}.qcow2"))).status_code == 201
    for name in exported:
        assert kube.create(ens_export(f"{name}-exp", name)).status_code == 201
    try:
        converge(kube, [("EnsImage", n) for n in names], [], timeout)
        for name in doomed:
            kube.delete("EnsImage", name)
        ready = [("EnsImageExport", f"{n}-exp") for n in exported]
        converge(kube, ready, [("EnsImage", n) for n in doomed], timeout)
    except AssertionError as error:
        run.converge_error = str(error)
    calls = stack.admin("GET", "calls")
    log = stack.admin("GET", "calls/log")
    assert isinstance(calls, dict) and isinstance(log, list)
    run.calls, run.log = calls, log
    run.images = [image for image in emulator_images(stack) if image["ImageName"].startswith(prefix)]
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    stack = make_stack(tmp_path_factory.mktemp("flaky"))
    try:
        stack.admin("POST", "config", {"seed": 7})
        stack.start_operator()
        calm = scenario(stack, "calm", timeout=60)
        stack.admin("POST", "faults", FAULTS)
        writes = Kube(stack, "flaky")
        writes.write_faults(KUBE_FAULTS)
        flaky = scenario(stack, "flaky", timeout=scaled(120, 300))
        flaky.kube_faults = sum(int(rule["hits"]) for rule in writes.write_faults([]))
        writes.write_faults(None)
        stack.admin("DELETE", "faults")
        record(
            "flaky cloud",
            objects=scaled(6, 24),
            calm_calls=calm.total,
            flaky_calls=flaky.total,
            failed_calls=flaky.failed,
            kube_write_faults=flaky.kube_faults,
            calm_by_action=calm.by_action,
            flaky_by_action=flaky.by_action,
            amplification=round(flaky.total / calm.total, 2),
            attempts_per_answer=round(flaky.total / (flaky.total - flaky.failed), 2),
            by_name_lookups=flaky.by_name_lookups,
            calm_seconds=round(calm.seconds, 1),
            flaky_seconds=round(flaky.seconds, 1),
        )
        yield calm, flaky
    finally:
        stack.close()


def test_the_faults_hit_about_a_third_of_the_calls(runs: tuple[Run, Run]) -> None:
    _, flaky = runs
    # A run makes a few dozen calls: allow four binomial standard deviations around the rate.
    expected = FAULT_RATE * flaky.total
    spread = 4 * math.sqrt(flaky.total * FAULT_RATE * (1 - FAULT_RATE))
    assert expected - spread <= flaky.failed <= expected + spread, flaky.calls


def test_every_object_converges_under_faults(runs: tuple[Run, Run]) -> None:
    calm, flaky = runs
    assert calm.converge_error is None, calm.converge_error
    assert flaky.converge_error is None, flaky.converge_error


def test_kubernetes_write_faults_were_met(runs: tuple[Run, Run]) -> None:
    _, flaky = runs
    assert flaky.kube_faults > 0


def test_lost_answers_never_give_an_object_two_images(runs: tuple[Run, Run]) -> None:
    _, flaky = runs
    assert duplicates(flaky.images) == {}


def test_every_failed_call_was_a_fault_the_test_injected(runs: tuple[Run, Run]) -> None:
    # The share of failed attempts is the injected rate (checked above); what the operator adds is
    # only the calls that fail on their own, and a correct retry policy makes none of those.
    _, flaky = runs
    assert flaky.own_failures == [], flaky.own_failures


def test_faults_cost_a_bounded_multiple_of_the_calls_of_a_calm_run(runs: tuple[Run, Run]) -> None:
    calm, flaky = runs
    amplification = flaky.total / calm.total
    assert amplification <= AMPLIFICATION_BOUND, f"{flaky.total} calls vs {calm.total}: {flaky.calls}"


def _same_call(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(a["action"] == b["action"] and a["params"] == b["params"])


def test_no_throttled_call_is_repeated_before_its_retry_after(runs: tuple[Run, Run]) -> None:
    _, flaky = runs
    log = sorted(flaky.log, key=lambda entry: entry["monotonic"])
    gaps = []
    for index, entry in enumerate(log):
        if entry["code"] != "Throttling.User":
            continue
        # A call cut off by the latency rule is logged when its connection closes, after the client
        # gave up on it: "Dropped" entries may predate the throttled call, so they are not retries.
        repeat = next(
            (later for later in log[index + 1 :] if later["code"] != "Dropped" and _same_call(later, entry)),
            None,
        )
        if repeat is not None:
            gaps.append(repeat["monotonic"] - entry["monotonic"])
    assert gaps, "no throttled call was ever repeated: the check saw nothing"
    assert min(gaps) >= RETRY_AFTER_MS / 1000, sorted(gaps)[:5]
