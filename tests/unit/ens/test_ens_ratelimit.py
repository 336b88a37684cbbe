"""One token bucket per ENS action: paced at its own rate, cut and recovered CUBIC-style on throttles."""

from __future__ import annotations

import asyncio

import pytest

from ens_image_operator.ens.ratelimit import (
    BETA,
    DOCUMENTED_RATES,
    SCALE,
    Priority,
    RateLimiter,
    in_background,
)


def now() -> float:
    return asyncio.get_running_loop().time()


def back_to_cut_rate(w_max: float) -> float:
    """CUBIC's k: seconds after a cut until the rate is back where it was cut."""
    return float((w_max * (1 - BETA) / SCALE) ** (1 / 3))


@pytest.mark.looptime
async def test_burst_passes_at_once_then_qps_paces() -> None:
    limiter = RateLimiter(qps=5, burst=5)
    start = now()
    for _ in range(5):
        await limiter.acquire("DeleteImage")
    assert now() - start == pytest.approx(0.0)
    for _ in range(5):
        await limiter.acquire("DeleteImage")
    assert now() - start == pytest.approx(1.0, abs=0.01)


@pytest.mark.looptime
async def test_each_action_is_paced_by_its_own_bucket() -> None:
    limiter = RateLimiter(qps=1, burst=1)
    start = now()
    await limiter.acquire("ImportImage")
    await limiter.acquire("DescribeSelfImages")
    await limiter.acquire("DeleteImage")
    assert now() - start == pytest.approx(0.0)  # three actions, three full buckets


@pytest.mark.looptime
async def test_actions_named_in_rates_run_at_their_own_rate_the_rest_at_qps() -> None:
    limiter = RateLimiter(qps=10, rates={"DescribeExportImageInfo": 50, "CreateImage": 1 / 60})
    assert limiter.rate("DescribeExportImageInfo") == 50
    assert limiter.rate("CreateImage") == pytest.approx(1 / 60)
    assert limiter.rate("ImportImage") == 10
    start = now()
    await limiter.acquire("CreateImage")
    await limiter.acquire("CreateImage")
    assert now() - start == pytest.approx(60.0, abs=0.01)


def test_documented_defaults_hold_the_quota_table_values() -> None:
    assert DOCUMENTED_RATES["DescribeExportImageInfo"] == 50.0


@pytest.mark.looptime
async def test_a_throttle_pauses_every_caller_of_that_action_for_its_retry_after() -> None:
    limiter = RateLimiter(qps=100, burst=100)
    start = now()
    limiter.penalize(3.0, "ImportImage")
    finished = await asyncio.gather(*(limiter.acquire("ImportImage") for _ in range(3)))
    assert len(finished) == 3
    assert now() - start >= 3.0


@pytest.mark.looptime
async def test_a_pause_without_an_action_pauses_every_action() -> None:
    limiter = RateLimiter(qps=100, burst=100)
    start = now()
    limiter.penalize(3.0)
    await limiter.acquire("ImportImage")
    await limiter.acquire("DescribeSelfImages")
    assert now() - start == pytest.approx(3.0, abs=0.01)
    assert limiter.rate("ImportImage") == 100  # a pause only: nothing was throttled


@pytest.mark.looptime
async def test_throttling_one_action_leaves_the_others_rate_and_pace_alone() -> None:
    limiter = RateLimiter(qps=10)
    limiter.penalize(5.0, "ImportImage")
    assert limiter.rate("ImportImage") == pytest.approx(10 * BETA)
    assert limiter.rate("DescribeSelfImages") == 10
    start = now()
    await limiter.acquire("DescribeSelfImages")
    assert now() - start == pytest.approx(0.0)  # not behind ImportImage's Retry-After


@pytest.mark.looptime
async def test_a_throttle_cuts_the_rate_multiplicatively_by_beta() -> None:
    limiter = RateLimiter(qps=20)
    limiter.penalize(0.0, "ImportImage")
    assert BETA == 0.7
    assert limiter.rate("ImportImage") == pytest.approx(14.0)


@pytest.mark.looptime
async def test_the_rate_recovers_along_a_cubic_curve_to_the_configured_rate() -> None:
    limiter = RateLimiter(qps=20)
    limiter.penalize(0.0, "ImportImage")
    k = back_to_cut_rate(20)
    seen = [limiter.rate("ImportImage")]
    for _ in range(4):
        await asyncio.sleep(k / 4)
        seen.append(limiter.rate("ImportImage"))
    assert seen == sorted(seen)  # climbs, never jumps back
    assert seen[1] - seen[0] > seen[3] - seen[2]  # concave: fast at first, slow near the old rate
    assert seen[2] == pytest.approx(SCALE * (k / 2 - k) ** 3 + 20)
    assert seen[-1] == pytest.approx(20.0)


@pytest.mark.looptime
async def test_recovery_starts_when_the_retry_after_ends() -> None:
    limiter = RateLimiter(qps=20)
    limiter.penalize(10.0, "ImportImage")
    await asyncio.sleep(10.0)
    assert limiter.rate("ImportImage") == pytest.approx(14.0)
    await asyncio.sleep(back_to_cut_rate(20))
    assert limiter.rate("ImportImage") == pytest.approx(20.0)


@pytest.mark.looptime
async def test_a_burst_of_throttles_cuts_the_rate_once() -> None:
    limiter = RateLimiter(qps=16)
    for _ in range(10):
        limiter.penalize(0.5, "ImportImage")
    assert limiter.rate("ImportImage") == pytest.approx(16 * BETA)


@pytest.mark.looptime
async def test_throttles_past_the_cut_interval_keep_cutting_down_to_a_floor() -> None:
    limiter = RateLimiter(qps=16, min_rate=0.5, cut_interval=0.0)
    rates = []
    for _ in range(12):
        limiter.penalize(0.0, "ImportImage")
        rates.append(limiter.rate("ImportImage"))
    assert rates[:3] == pytest.approx([16 * BETA, 16 * BETA**2, 16 * BETA**3])
    assert rates[-1] == pytest.approx(0.5)


@pytest.mark.looptime
async def test_the_cut_starts_from_the_rate_really_sent_when_that_is_lower() -> None:
    limiter = RateLimiter(qps=100)
    for _ in range(20):  # two calls a second, far below the configured 100/s
        await limiter.acquire("DescribeSelfImages")
        await asyncio.sleep(0.5)
    limiter.penalize(0.0, "DescribeSelfImages")
    assert limiter.rate("DescribeSelfImages") == pytest.approx(2.0 * BETA, rel=0.05)


@pytest.mark.looptime
async def test_rate_changes_are_reported_with_scope_and_action() -> None:
    heard: list[tuple[str, str, float]] = []
    limiter = RateLimiter(qps=10, scope="secret-1", on_rate=lambda *change: heard.append(change))
    await limiter.acquire("ImportImage")
    await limiter.acquire("ImportImage")  # unchanged: not reported again
    limiter.penalize(0.0, "ImportImage")
    assert heard == [("secret-1", "ImportImage", 10.0), ("secret-1", "ImportImage", pytest.approx(7.0))]


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="qps"):
        RateLimiter(qps=0)
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(qps=1, rates={"ImportImage": 0})


@pytest.mark.looptime
async def test_a_background_listing_gives_way_to_every_caller_in_the_foreground() -> None:
    # The drift check's paged listing shares DescribeSelfImages' bucket with the passes in flight.
    limiter = RateLimiter(qps=1, burst=1)
    served: list[tuple[str, float]] = []

    async def call(tag: str) -> None:
        await limiter.acquire("DescribeSelfImages")
        served.append((tag, now()))

    async def listing() -> None:
        for page in range(3):
            await call(f"page-{page}")

    pages = asyncio.get_running_loop().create_task(listing(), context=in_background())
    await asyncio.sleep(0)  # the first page takes the one token there is
    lookups = [asyncio.create_task(call(f"lookup-{n}")) for n in range(3)]
    await asyncio.gather(pages, *lookups)
    assert [tag for tag, _ in served] == ["page-0", "lookup-0", "lookup-1", "lookup-2", "page-1", "page-2"]
    assert [at for _, at in served] == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.01)  # no token lost


@pytest.mark.looptime
async def test_background_work_raised_to_the_foreground_queues_as_any_caller() -> None:
    limiter = RateLimiter(qps=1, burst=1)
    priority = Priority(background=True)
    served: list[str] = []

    async def call(tag: str) -> None:
        await limiter.acquire("DescribeSelfImages")
        served.append(tag)

    async def steady_passes() -> None:
        for n in range(6):
            await call(f"lookup-{n}")

    await call("warm")  # the bucket is empty now
    passes = asyncio.create_task(steady_passes())
    await asyncio.sleep(0)
    page = asyncio.get_running_loop().create_task(call("page"), context=in_background(priority))
    await asyncio.sleep(1.5)
    priority.background = False  # a pass waits for the listing now
    await asyncio.gather(passes, page)
    assert served.index("page") < len(served) - 1  # served before the passes ran out
