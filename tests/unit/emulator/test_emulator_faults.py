"""Fault rules fire at their configured rate, reproducibly for a given seed."""

from __future__ import annotations

import pytest

from ens_image_kit.emulator.faults import FaultInjector, FaultRule


def _fired(injector: FaultInjector, action: str, calls: int) -> int:
    return sum(injector.pick(action) is not None for _ in range(calls))


def test_a_rule_fires_at_about_its_rate() -> None:
    injector = FaultInjector(seed=42)
    injector.add(FaultRule(rate=0.3))
    assert 2700 <= _fired(injector, "DescribeSelfImages", 10_000) <= 3300


def test_the_same_seed_gives_the_same_faults() -> None:
    runs = []
    for _ in range(2):
        injector = FaultInjector(seed=7)
        injector.add(FaultRule(rate=0.5))
        runs.append([injector.pick("X") is not None for _ in range(200)])
    assert runs[0] == runs[1]


def test_a_rule_for_one_action_never_fires_for_another() -> None:
    injector = FaultInjector(seed=1)
    injector.add(FaultRule(action="ImportImage", rate=1.0))
    assert _fired(injector, "DescribeSelfImages", 100) == 0
    assert _fired(injector, "ImportImage", 100) == 100


def test_cleared_rules_never_fire() -> None:
    injector = FaultInjector(seed=1)
    injector.add(FaultRule(rate=1.0))
    injector.clear()
    assert _fired(injector, "X", 100) == 0


def test_rules_are_read_from_the_admin_json() -> None:
    rule = FaultRule.from_json(
        {"action": "DeleteImage", "rate": 0.25, "retryAfterMs": 500, "drop": True, "after": True}
    )
    assert (rule.action, rule.rate, rule.retry_after_ms, rule.drop, rule.after, rule.code) == (
        "DeleteImage",
        0.25,
        500,
        True,
        True,
        "Throttling.User",
    )


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_rate_outside_zero_to_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultRule.from_json({"rate": rate})
