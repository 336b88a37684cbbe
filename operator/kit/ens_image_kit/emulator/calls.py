"""What the emulator was asked: counters per action and outcome, and a bounded log of calls."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

# Parameters never echoed by the admin API: they are, or lead to, credentials.
SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "OIDCToken", "AccessKeySecret"})


class CallRecorder:
    """Counts calls by action and Code ("OK" for success) and keeps the most recent ones."""

    def __init__(self, capacity: int = 2000) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=capacity)

    def record(
        self,
        action: str,
        code: str,
        status: int,
        params: Mapping[str, str],
        key_id: str | None,
        injected: bool = False,
    ) -> None:
        """Count one call and log it without its secret parameters; ``injected`` if a fault rule fired."""
        self.counts.setdefault(action, Counter())[code] += 1
        self.log.append(
            {
                "action": action,
                "code": code,
                "status": status,
                "accessKeyId": key_id,
                "injected": injected,
                "monotonic": time.monotonic(),
                "time": time.time(),
                "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
            }
        )

    def summary(self) -> dict[str, dict[str, int]]:
        """``{action: {code: count}}``."""
        return {action: dict(counter) for action, counter in self.counts.items()}

    def recent(self, action: str | None = None) -> list[dict[str, Any]]:
        """Logged calls, oldest first, optionally of one action."""
        return [entry for entry in self.log if action is None or entry["action"] == action]

    def clear(self) -> None:
        """Forget all calls."""
        self.counts.clear()
        self.log.clear()
