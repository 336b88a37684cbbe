"""Injected faults: errors, latency and dropped connections, chosen per action at a given rate."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FaultRule:
    """With probability ``rate``, a call to ``action`` ("*" for any) is delayed, dropped or refused.

    With ``after`` the operation runs first, so the caller sees a failure of a call that took effect.
    """

    action: str = "*"
    rate: float = 1.0
    code: str | None = "Throttling.User"
    status: int = 400
    message: str = "Request was denied due to user flow control."
    latency: float = 0.0
    drop: bool = False
    retry_after_ms: int | None = None
    after: bool = False  # run the operation first, then inflict the fault on its answer

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        """Build from the admin API's camelCase JSON; raises ValueError on bad input."""
        rate = float(data.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        retry_after = data.get("retryAfterMs")
        code = data.get("code", "Throttling.User")
        return cls(
            action=str(data.get("action", "*")),
            rate=rate,
            code=None if code is None else str(code),
            status=int(data.get("status", 400)),
            message=str(data.get("message", cls.message)),
            latency=max(0.0, float(data.get("latency", 0.0))),
            drop=bool(data.get("drop", False)),
            retry_after_ms=None if retry_after is None else int(retry_after),
            after=bool(data.get("after", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The admin API's view of the rule."""
        data = asdict(self)
        data["retryAfterMs"] = data.pop("retry_after_ms")
        return data


class FaultInjector:
    """An ordered list of rules; the first matching rule that fires wins."""

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self._random = random.Random(seed)

    def seed(self, seed: int | None) -> None:
        """Restart the random sequence, for reproducible runs."""
        self._random.seed(seed)

    def add(self, rule: FaultRule) -> None:
        """Append a rule."""
        self.rules.append(rule)

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def pick(self, action: str) -> FaultRule | None:
        """The rule to apply to this call, if any fires."""
        for rule in self.rules:
            if rule.action in ("*", action) and self._random.random() < rule.rate:
                return rule
        return None
