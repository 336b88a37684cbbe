"""The peering gate applies kopf's rule to the operator's own background work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from ens_image_operator.controllers.peering import PeeringGate, blocking_peers, peering_paths

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _record(priority: int, seen_ago: float = 0.0, lifetime: int = 60) -> dict[str, Any]:
    return {
        "priority": priority,
        "lifetime": lifetime,
        "lastseen": (NOW - timedelta(seconds=seen_ago)).isoformat(),
    }


def test_a_live_peer_with_a_higher_priority_blocks() -> None:
    assert blocking_peers({"me": _record(10), "other": _record(20)}, "me", 10, NOW) == ["other"]


def test_a_live_peer_with_the_same_priority_blocks_as_kopf_freezes_both() -> None:
    assert blocking_peers({"other": _record(10)}, "me", 10, NOW) == ["other"]


def test_lower_priorities_dead_records_and_our_own_record_do_not_block() -> None:
    status = {"me": _record(99), "low": _record(5), "dead": _record(50, seen_ago=61), "gone": None}
    assert blocking_peers(status, "me", 10, NOW) == []


def test_cluster_wide_operators_meet_in_one_object_namespaced_ones_in_each_namespace() -> None:
    assert peering_paths("ens", []) == ["/apis/kopf.dev/v1/clusterkopfpeerings/ens"]
    assert peering_paths("ens", ["a", "b"]) == [
        "/apis/kopf.dev/v1/namespaces/a/kopfpeerings/ens",
        "/apis/kopf.dev/v1/namespaces/b/kopfpeerings/ens",
    ]


class Peering:
    def __init__(self, body: dict[str, Any] | None) -> None:
        self.body = body

    async def get_path(self, path: str) -> dict[str, Any] | None:
        return self.body


def _gate(peering: Peering) -> PeeringGate:
    return PeeringGate(peering, ["/p"], identity="me", priority=10, interval=0.01, clock=lambda: NOW)


async def test_a_standalone_operator_is_always_active() -> None:
    assert PeeringGate().active


async def test_a_replica_starts_paused_and_opens_after_two_clear_readings() -> None:
    gate = _gate(Peering({"status": {"me": _record(10)}}))
    assert not gate.active
    task = asyncio.create_task(gate.run(lambda: None))
    await asyncio.wait_for(gate.wait_active(), timeout=5)
    task.cancel()


async def test_a_higher_peer_appearing_pauses_and_drops_the_cache() -> None:
    peering = Peering({"status": {"me": _record(10)}})
    gate = _gate(peering)
    dropped = asyncio.Event()
    task = asyncio.create_task(gate.run(dropped.set))
    await asyncio.wait_for(gate.wait_active(), timeout=5)
    peering.body = {"status": {"me": _record(10), "other": _record(20)}}
    await asyncio.wait_for(dropped.wait(), timeout=5)
    assert not gate.active
    task.cancel()


async def test_without_its_peering_object_a_replica_stays_paused() -> None:
    gate = _gate(Peering(None))
    assert not await gate.allowed()
