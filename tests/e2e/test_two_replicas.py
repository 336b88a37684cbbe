"""Two replicas with peering: only the active one calls ENS or writes status; the standby takes over.

kopf pauses a standby's watches and handlers, not the operator's own background task; before the
peering gate, a standby kept polling ENS and writing status from what it had cached.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.cluster.controlplane import ControlPlane

from cluster import Cluster, ens_image, live_images, oss, unique
from ens_image_kit.stack import ChildProcess, LocalStack, free_port

PEERING = "ens-image-operator"
LIFETIME = 15  # seconds: a killed replica's record is dead this long after its last renewal


class Replica:
    """One ``ens-image-operator run`` with peering, its health and metrics ports of its own."""

    def __init__(self, stack: LocalStack, name: str, priority: int) -> None:
        self.name = name
        self.health_port, self.metrics_port = free_port(), free_port()
        env = stack.operator_environment(
            {
                "POD_NAME": name,
                "ENS_OPERATOR_PEERING": PEERING,
                "ENS_OPERATOR_PRIORITY": str(priority),
                "ENS_OPERATOR_PEERING_LIFETIME": str(LIFETIME),
                "ENS_OPERATOR_HEALTH_PORT": str(self.health_port),
                "ENS_OPERATOR_METRICS_PORT": str(self.metrics_port),
            }
        )
        log = stack.workdir / f"{name}.log"
        self.process = ChildProcess(name, ["run", "--all-namespaces"], log, env)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
        return total

    def wait_metric(self, name: str, value: float, timeout: float) -> float:
        """Seconds until the metric shows ``value``; fail with the replica's log otherwise."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if self.metric(name) == value:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: {name} never became {value}; log:\n{self.process.tail()}")


def _in_flight(body: dict[str, Any] | None) -> bool:
    return bool(((body or {}).get("status") or {}).get("imageId"))


def _silence(replica: Replica) -> tuple[float, float]:
    return (
        replica.metric("ens_operator_ens_calls_total"),
        replica.metric("ens_operator_kube_writes_total"),
    )


PEERING_OBJECT = f"apiVersion: kopf.dev/v1\nkind: ClusterKopfPeering\nmetadata:\n  name: {PEERING}\n"
KOPF_CRDS = Path(__file__).resolve().parents[2] / "helm" / "ens-image-operator" / "crds" / "kopf"


@pytest.fixture(params=["sandbox", "real"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LocalStack, Cluster]]:
    """The ENS emulator and an API server holding the peering object: the sandbox or a real one."""
    plane: ControlPlane | None = None
    if request.param == "real":
        plane = request.getfixturevalue("private_control_plane")
    stack = LocalStack(
        tmp_path, step_seconds=2.0, fast_poll_interval=0.5, kubeconfig=plane.kubeconfig if plane else None
    )
    try:
        stack.__enter__()
        if plane is not None:
            cluster = Cluster(plane.kubeconfig, "default", str(plane.kubectl))
            cluster.kubectl("apply", "-f", str(KOPF_CRDS))
            cluster.kubectl("wait", "--for=condition=Established", "-f", str(KOPF_CRDS))
        else:
            cluster = Cluster(stack.kubeconfig, "default")
        cluster.kubectl("apply", "-f", "-", stdin=PEERING_OBJECT)
        yield stack, cluster
    finally:
        stack.close()


def test_a_paused_replica_stays_silent_and_takes_over_when_the_active_one_dies(
    stack: tuple[LocalStack, Cluster],
) -> None:
    ens, cluster = stack
    first, second = unique("before"), unique("during")
    low = Replica(ens, "replica-low", 100)
    high: Replica | None = None
    try:
        low.wait_metric("ens_operator_active", 1, timeout=60)
        cluster.apply(ens_image(first, source=oss("web.qcow2")))
        cluster.wait_for("ensimage", first, _in_flight, what="an import in flight")

        high = Replica(ens, "replica-high", 200)
        high.wait_metric("ens_operator_active", 1, timeout=60)
        low.wait_metric("ens_operator_active", 0, timeout=30)
        paused_at = _silence(low)
        cluster.apply(ens_image(second, source=oss("web.qcow2")))
        cluster.wait_condition("ensimage", first, "Ready", timeout=60)
        cluster.wait_for("ensimage", second, _in_flight, what="an import in flight")
        assert _silence(low) == paused_at, "the paused replica called ENS or wrote status"

        high.process.kill()
        takeover = low.wait_metric("ens_operator_active", 1, timeout=2 * LIFETIME)
        cluster.wait_condition("ensimage", second, "Ready", timeout=60)
        assert takeover <= 2 * LIFETIME
        assert [len(live_images(ens, name)) for name in (first, second)] == [1, 1]
    finally:
        for replica in (low, high):
            if replica is not None:
                replica.process.terminate(timeout=10)
