"""The shared token bucket paces callers and makes all of them back off after a throttle."""

from __future__ import annotations

import asyncio

import pytest

from ens_image_operator.ens.ratelimit import RateLimiter


def now() -> float:
    return asyncio.get_running_loop().time()


@pytest.mark.looptime
async def test_burst_passes_at_once_then_qps_paces() -> None:
    limiter = RateLimiter(qps=5, burst=5)
    start = now()
    for _ in range(5):
        await limiter.acquire()
    assert now() - start == pytest.approx(0.0)
    for _ in range(5):
        await limiter.acquire()
    assert now() - start == pytest.approx(1.0, abs=0.01)


@pytest.mark.looptime
async def test_penalty_pauses_every_caller() -> None:
    limiter = RateLimiter(qps=100, burst=100)
    start = now()
    limiter.penalize(3.0)
    finished = await asyncio.gather(*(limiter.acquire() for _ in range(3)))
    assert len(finished) == 3
    assert now() - start >= 3.0


@pytest.mark.looptime
async def test_penalty_halves_the_rate_then_it_recovers() -> None:
    limiter = RateLimiter(qps=10, burst=1, recovery=30.0)
    await limiter.acquire()
    limiter.penalize(0.0)
    assert limiter.rate() == pytest.approx(5.0)
    await asyncio.sleep(15)
    assert limiter.rate() == pytest.approx(7.5, abs=0.05)
    await asyncio.sleep(16)
    assert limiter.rate() == pytest.approx(10.0)


@pytest.mark.looptime
async def test_a_burst_of_throttles_halves_the_rate_once() -> None:
    limiter = RateLimiter(qps=16, burst=1)
    for _ in range(10):
        limiter.penalize(0.5)
    assert limiter.rate() == pytest.approx(8.0)


@pytest.mark.looptime
async def test_throttles_spread_over_time_keep_halving_down_to_a_floor() -> None:
    limiter = RateLimiter(qps=16, burst=1, min_factor=1 / 16, recovery=1000.0)
    for _ in range(10):
        limiter.penalize(0.0)
        await asyncio.sleep(1.0)
    assert limiter.rate() == pytest.approx(1.0, abs=0.2)


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="qps"):
        RateLimiter(qps=0)
