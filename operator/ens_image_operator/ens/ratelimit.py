"""A process-wide token bucket for ENS calls that every caller slows down behind when ENS throttles.

Create one :class:`RateLimiter` per process and hand it to every :class:`EnsClient`. On a throttling
answer the client calls :meth:`RateLimiter.penalize`: every caller then waits out the pause, and the
rate drops and climbs back to normal over ``recovery`` seconds, so the whole process backs off
instead of only the request that was unlucky.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

_EPSILON = 1e-6
_MIN_WAIT = 1e-3


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class RateLimiter:
    """Async token bucket: ``qps`` tokens per second, at most ``burst`` saved up."""

    def __init__(
        self,
        qps: float,
        burst: int = 1,
        *,
        recovery: float = 30.0,
        min_factor: float = 1 / 16,
        halving_interval: float = 1.0,
        clock: Callable[[], float] = _loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be positive and burst at least 1")
        self.qps = qps
        self.burst = burst
        self.recovery = recovery
        self.min_factor = min_factor
        self.halving_interval = halving_interval
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated: float | None = None
        self._paused_until = float("-inf")
        self._factor_at_penalty = 1.0
        self._penalized_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def rate(self, now: float | None = None) -> float:
        """Current tokens per second: ``qps`` reduced after a penalty, recovering linearly."""
        now = self._clock() if now is None else now
        if self._penalized_at is None:
            return self.qps
        elapsed = max(0.0, now - max(self._penalized_at, self._paused_until))
        factor = self._factor_at_penalty + (1.0 - self._factor_at_penalty) * min(1.0, elapsed / self.recovery)
        if factor >= 1.0:
            self._penalized_at = None
        return self.qps * min(1.0, factor)

    def penalize(self, seconds: float) -> None:
        """ENS throttled us: pause every caller for ``seconds`` and halve the rate for a while."""
        now = self._clock()
        self._refill(now)
        # Answers to requests sent together arrive together: one burst of throttles halves once.
        if self._penalized_at is None or now - self._penalized_at >= self.halving_interval:
            self._factor_at_penalty = max(self.min_factor, self.rate(now) / self.qps / 2)
            self._penalized_at = now
        self._paused_until = max(self._paused_until, now + max(0.0, seconds))
        self._tokens = min(self._tokens, 0.0)  # no saved-up burst right after a throttle

    def _refill(self, now: float) -> None:
        if self._updated is not None and now > self._updated:
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate(now))
        self._updated = now if self._updated is None else max(self._updated, now)

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def acquire(self) -> None:
        """Wait for a token; callers are served first come, first served."""
        async with self._get_lock():
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    self._updated = max(self._updated or now, self._paused_until)
                    continue
                self._refill(now)
                if self._tokens >= 1.0 - _EPSILON:  # float sums of refills land just short of 1
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                await self._sleep(max(_MIN_WAIT, (1.0 - self._tokens) / self.rate(now)))
