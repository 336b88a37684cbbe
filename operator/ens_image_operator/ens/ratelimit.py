"""Token buckets for ENS calls: one per action per credentials scope, adaptive on throttling.

ENS limits each API per region, API and account (the quota table's dimension is
``regionId,API,ParentUid``), so a :class:`RateLimiter` belongs to one credentials scope and keeps
one :class:`ActionBucket` per action name, created on first use. Each bucket starts at its
configured rate. A throttling answer cuts that action's rate the way the AWS SDKs' adaptive retry
mode does (CUBIC): the rate drops to ``beta`` times the rate we were really sending at, then
climbs back along a cubic curve to where it was cut and on up to the configured rate. The other
actions keep their rates. A Retry-After also pauses the throttled action's callers until it ends.

Calls made in a background context (:func:`in_background`: the drift check's listing) take a token
only while no other caller of that action waits for one, so a long background listing never delays
the passes in flight that share its bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

_EPSILON = 1e-6
_MIN_WAIT = 1e-3

# Documented ENS quotas (API reference, "流控信息" / API rate limits) of the actions this operator
# calls, in calls per second; every other action runs at the ``qps`` setting. docs/install.md
# lists the source of each default.
DOCUMENTED_RATES: Mapping[str, float] = {
    "DescribeExportImageInfo": 50.0,
}

BETA = 0.7  # AWS SDK adaptive retry: the multiplicative cut on a throttle
SCALE = 0.4  # AWS SDK adaptive retry: the cubic's scale constant (calls/s per s³)
MIN_RATE = 0.5  # AWS SDK adaptive retry: the lowest fill rate after cuts (calls/s)
MEASURE_BUCKET = 0.5  # seconds per sample of the measured send rate
MEASURE_SMOOTHING = 0.8  # weight of the newest sample
BACKGROUND_RECHECK = 0.5  # seconds between looks of a background caller at its priority

OnRate = Callable[[str, str, float], None]  # (scope, action, calls per second)


@dataclass
class Priority:
    """How the calls of a context queue for tokens; a shared work item can be raised mid-way."""

    background: bool = False


_PRIORITY: contextvars.ContextVar[Priority | None] = contextvars.ContextVar("ens_call_priority", default=None)


def in_background(priority: Priority | None = None) -> contextvars.Context:
    """A copy of the current context whose ENS calls yield to every other caller (or ``priority``'s).

    Run a task in it (``loop.create_task(coro, context=...)``); setting ``priority.background``
    to False later raises the calls that task has still to make.
    """
    context = contextvars.copy_context()
    context.run(_PRIORITY.set, priority or Priority(background=True))
    return context


def _in_background() -> bool:
    priority = _PRIORITY.get()
    return priority is not None and priority.background


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class ActionBucket:
    """Async token bucket of one action: at most ``ceiling`` calls/s, cut on throttles (CUBIC)."""

    def __init__(
        self,
        ceiling: float,
        burst: int,
        *,
        beta: float = BETA,
        scale: float = SCALE,
        min_rate: float = MIN_RATE,
        cut_interval: float = 1.0,
        clock: Callable[[], float] = _loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        paused_until: Callable[[], float] = lambda: float("-inf"),
    ) -> None:
        if ceiling <= 0 or burst < 1:
            raise ValueError("the rate (qps) must be positive and burst at least 1")
        self.ceiling = ceiling
        self.burst = burst
        self.beta = beta
        self.scale = scale
        # An action allowed 1 call a minute must still be able to go below that after a throttle.
        self.min_rate = min(min_rate, ceiling / 16)
        self.cut_interval = cut_interval
        self._clock = clock
        self._sleep = sleep
        self._scope_paused_until = paused_until
        self._tokens = float(burst)
        self._updated: float | None = None
        self._paused_until = float("-inf")
        # CUBIC state: the rate at the last cut (w_max), when, and the time back to w_max (k).
        self._w_max = ceiling
        self._last_cut: float | None = None
        self._k = 0.0
        # The rate we really send at, sampled per MEASURE_BUCKET and smoothed.
        self._measured = 0.0
        self._sample_start: float | None = None
        self._sample_count = 0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._waiting = 0  # callers in the foreground waiting for a token
        self._quiet: asyncio.Event | None = None  # set while none is waiting

    def rate(self, now: float | None = None) -> float:
        """Current calls per second: the ceiling, or the cubic recovery after the last cut."""
        if self._last_cut is None:
            return self.ceiling
        now = self._clock() if now is None else now
        # The curve starts when the pause (Retry-After) ends: nothing is sent before.
        start = max(self._last_cut, self.paused_until())
        elapsed = max(0.0, now - start)
        cubic = self.scale * (elapsed - self._k) ** 3 + self._w_max
        return max(self.min_rate, min(self.ceiling, cubic))

    def measured_rate(self) -> float:
        """The smoothed rate at which calls were sent lately (calls/s)."""
        return self._measured

    def paused_until(self) -> float:
        """Until when this action's callers wait (its own Retry-After or the scope's)."""
        return max(self._paused_until, self._scope_paused_until())

    def throttled(self, seconds: float) -> None:
        """ENS throttled this action: pause its callers for ``seconds`` and cut its rate."""
        now = self._clock()
        self._refill(now)
        # Answers to requests sent together arrive together: one burst of throttles cuts once.
        if self._last_cut is None or now - self._last_cut >= self.cut_interval:
            current = self.rate(now)
            sending = self._measured if self._measured > 0 else current
            self._w_max = max(self.min_rate, min(current, sending))
            self._k = (self._w_max * (1 - self.beta) / self.scale) ** (1 / 3)
            self._last_cut = now
        self._paused_until = max(self._paused_until, now + max(0.0, seconds))
        self._tokens = min(self._tokens, 0.0)  # no saved-up burst right after a throttle

    def _measure(self, now: float) -> None:
        if self._sample_start is None:
            self._sample_start = now
        elapsed = now - self._sample_start
        if elapsed >= MEASURE_BUCKET:
            sample = self._sample_count / elapsed
            self._measured = sample * MEASURE_SMOOTHING + self._measured * (1 - MEASURE_SMOOTHING)
            self._sample_start, self._sample_count = now, 0
        self._sample_count += 1

    def _refill(self, now: float) -> None:
        if self._updated is not None and now > self._updated:
            capacity = max(1.0, min(float(self.burst), self.rate(now)))
            self._tokens = min(capacity, self._tokens + (now - self._updated) * self.rate(now))
        self._updated = now if self._updated is None else max(self._updated, now)

    def _get_lock(self) -> tuple[asyncio.Lock, asyncio.Event]:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._quiet is None or self._lock_loop is not loop:
            self._lock, self._quiet, self._lock_loop = asyncio.Lock(), asyncio.Event(), loop
            self._quiet.set()
        return self._lock, self._quiet

    async def acquire(self) -> None:
        """Wait for a token; callers are served first come, first served, background ones last."""
        lock, quiet = self._get_lock()
        if _in_background():
            while True:
                # Looked at again now and then: the work may have been raised to the foreground.
                while self._waiting and _in_background():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(quiet.wait(), BACKGROUND_RECHECK)
                if await self._take(lock):
                    return
        self._waiting += 1
        quiet.clear()
        try:
            await self._take(lock)
        finally:
            self._waiting -= 1
            if not self._waiting:
                quiet.set()

    async def _take(self, lock: asyncio.Lock) -> bool:
        """Take a token; False (none taken) when a background caller must give way meanwhile."""
        async with lock:
            while True:
                if self._waiting and _in_background():
                    return False
                now = self._clock()
                paused_until = self.paused_until()
                if now < paused_until:
                    await self._sleep(paused_until - now)
                    self._updated = max(self._updated or now, paused_until)
                    continue
                self._refill(now)
                if self._tokens >= 1.0 - _EPSILON:  # float sums of refills land just short of 1
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self._measure(now)
                    return True
                await self._sleep(max(_MIN_WAIT, (1.0 - self._tokens) / self.rate(now)))


class RateLimiter:
    """The buckets of one credentials scope: one per ENS action, made on first use.

    ``qps`` is the rate of every action not named in ``rates``. ``burst`` (default: the rate,
    at least 1) is how many calls an idle action may send at once. ``on_rate`` hears
    ``(scope, action, rate)`` whenever an action's rate changes.
    """

    def __init__(
        self,
        qps: float,
        burst: int | None = None,
        *,
        rates: Mapping[str, float] | None = None,
        scope: str = "",
        on_rate: OnRate | None = None,
        beta: float = BETA,
        scale: float = SCALE,
        min_rate: float = MIN_RATE,
        cut_interval: float = 1.0,
        clock: Callable[[], float] = _loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        rates = dict(rates or {})
        if qps <= 0 or (burst is not None and burst < 1) or any(rate <= 0 for rate in rates.values()):
            raise ValueError("qps and every action's rate must be positive, and burst at least 1")
        self.qps = qps
        self.burst = burst
        self.rates = rates
        self.scope = scope
        self._on_rate = on_rate
        self._options = {"beta": beta, "scale": scale, "min_rate": min_rate, "cut_interval": cut_interval}
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, ActionBucket] = {}
        self._published: dict[str, float] = {}
        self._paused_until = float("-inf")

    def configured_rate(self, action: str) -> float:
        """The rate ``action`` runs at when ENS does not throttle it."""
        return self.rates.get(action, self.qps)

    def bucket(self, action: str) -> ActionBucket:
        """The bucket of ``action``, created at its configured rate on first use."""
        found = self._buckets.get(action)
        if found is None:
            ceiling = self.configured_rate(action)
            burst = self.burst if self.burst is not None else max(1, int(ceiling))
            found = ActionBucket(
                ceiling,
                burst,
                clock=self._clock,
                sleep=self._sleep,
                paused_until=lambda: self._paused_until,
                **self._options,
            )
            self._buckets[action] = found
        return found

    def rate(self, action: str = "", now: float | None = None) -> float:
        """Current calls per second of ``action``."""
        return self.bucket(action).rate(now)

    async def acquire(self, action: str = "") -> None:
        """Wait for a token of ``action``."""
        bucket = self.bucket(action)
        await bucket.acquire()
        self._publish(action, bucket)

    def penalize(self, seconds: float, action: str | None = None) -> None:
        """ENS throttled ``action``: pause it for ``seconds`` and cut its rate.

        Without an action every action of the scope pauses (no rate is cut).
        """
        if action is None:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
            return
        bucket = self.bucket(action)
        bucket.throttled(seconds)
        self._publish(action, bucket)

    def _publish(self, action: str, bucket: ActionBucket) -> None:
        if self._on_rate is None:
            return
        rate = bucket.rate()
        if self._published.get(action) != rate:
            self._published[action] = rate
            self._on_rate(self.scope, action, rate)
