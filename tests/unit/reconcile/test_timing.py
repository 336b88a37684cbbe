"""Backoff with jitter, per-object retry schedules, Go durations."""

from __future__ import annotations

import random

import pytest

from ens_image_operator.reconcile.timing import Backoffs, Intervals, backoff, parse_duration


def test_backoff_grows_exponentially_within_jitter_bounds() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0)):
        delay = backoff(attempt, base=1.0, cap=100.0, rng=rng)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_never_exceeds_the_cap() -> None:
    assert backoff(50, base=1.0, cap=30.0, rng=random.Random(2)) <= 30.0


def test_backoff_is_jittered_across_objects() -> None:
    rng = random.Random(3)
    delays = {round(backoff(4, base=1.0, cap=60.0, rng=rng), 6) for _ in range(20)}
    assert len(delays) > 10


def test_an_object_waits_after_a_failure_and_not_after_success() -> None:
    backoffs = Backoffs(base=2.0, cap=60.0, rng=random.Random(4))
    delay = backoffs.failed("a", now=100.0)
    assert backoffs.waiting("a", now=100.0 + delay / 2)
    assert not backoffs.waiting("a", now=100.0 + delay + 0.01)
    backoffs.failed("a", now=200.0)
    backoffs.succeeded("a")
    assert not backoffs.waiting("a", now=200.0)


def test_failures_of_one_object_do_not_delay_another() -> None:
    backoffs = Backoffs(base=2.0, cap=60.0)
    backoffs.failed("a", now=0.0)
    assert not backoffs.waiting("b", now=0.0)


def test_credentials_are_rechecked_more_slowly_than_fast_polls_but_within_a_minute() -> None:
    assert Intervals(fast=0.5, slow=600).credentials_recheck == 5.0
    assert Intervals(fast=5, slow=600).credentials_recheck == 30.0
    assert Intervals(fast=30, slow=600).credentials_recheck == 60.0


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("30m", 1800), ("1h30m", 5400), ("1.5s", 1.5)])
def test_go_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "h", "1x"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
