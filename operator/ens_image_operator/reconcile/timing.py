"""When to look again: adaptive poll intervals and jittered backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Intervals:
    """The poll periods of the operator, from its settings."""

    fast: float
    slow: float

    @property
    def credentials_recheck(self) -> float:
        """How often an object stalled on credentials tries again: a fixed Secret is noticed soon."""
        return min(60.0, max(5.0, self.fast * 6))


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with equal jitter.

    Half the delay is fixed so retries never bunch up at zero; the other half is random so many
    objects failing together do not retry together.
    """
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    jitter: float = (rng or random.Random()).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


class Backoffs:
    """Per-object retry state kept in memory: a restart simply retries at once."""

    def __init__(self, *, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()
        self._attempts: dict[str, int] = {}
        self._not_before: dict[str, float] = {}

    def failed(self, key: str, now: float) -> float:
        """Record a failure; return the delay before the next attempt."""
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        delay = backoff(attempt, base=self.base, cap=self.cap, rng=self._rng)
        self._not_before[key] = now + delay
        return delay

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._attempts.pop(key, None)
        self._not_before.pop(key, None)

    def defer(self, key: str, until: float) -> None:
        """Hold the next attempt of ``key`` until ``until`` (a slow re-check, not a failure)."""
        self._not_before[key] = until

    def waiting(self, key: str, now: float) -> bool:
        """Whether ``key`` is still backing off."""
        return now < self._not_before.get(key, float("-inf"))


def parse_duration(text: str) -> float:
    """Seconds in a Go duration such as ``1h30m`` or ``90s``."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    number = ""
    index = 0
    if not text:
        raise ValueError("empty duration")
    while index < len(text):
        char = text[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue
        unit = text[index : index + 2] if text[index : index + 2] in units else char
        if unit not in units or not number:
            raise ValueError(f"not a duration: {text!r}")
        total += float(number) * units[unit]
        number = ""
        index += len(unit)
    if number:
        raise ValueError(f"duration without a unit: {text!r}")
    return total
