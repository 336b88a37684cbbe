"""The end-to-end stack: ENS emulator + a Kubernetes API + a real ``ens-image-operator run``.

Every test runs twice: with the local Kubernetes API (``sandbox``) and with the real kube-apiserver
of ``tests/cluster`` (``real``). Set ENS_E2E_KUBECONFIG to run them once against that cluster
instead (``external``). On a real API server the CRDs of ``crds/`` are applied to it; every test
gets a fresh namespace.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import Cluster
from ens_image_kit.stack import LocalStack, find_crds_dir

REAL_KUBECONFIG = os.environ.get("ENS_E2E_KUBECONFIG")
STEP_SECONDS = 0.5
FAST_POLL = 0.5


class E2EStack(LocalStack):
    """The stack, and the kubectl to use against its Kubernetes API (one within version skew)."""

    kubectl = "kubectl"


@pytest.fixture(scope="session", params=["external"] if REAL_KUBECONFIG else ["sandbox", "real"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    kubeconfig: Path | None = None
    kubectl = "kubectl"
    if request.param == "real":
        plane = request.getfixturevalue("control_plane")
        kubeconfig, kubectl = plane.kubeconfig, str(plane.kubectl)
    elif request.param == "external":
        kubeconfig = Path(str(REAL_KUBECONFIG))
    stack = E2EStack(
        workdir,
        step_seconds=STEP_SECONDS,
        fast_poll_interval=FAST_POLL,
        # The emulator lists new images at once: a settle window of two request timeouts will do.
        operator_env={
            "ENS_OPERATOR_SLOW_POLL_INTERVAL": "5",
            "ENS_OPERATOR_REQUEST_TIMEOUT": "5",
            "ENS_OPERATOR_LISTING_LAG": "10",
        },
        kubeconfig=kubeconfig,
    )
    stack.kubectl = kubectl
    try:
        if kubeconfig is not None:
            crds = find_crds_dir()
            assert crds is not None, "the crds/ folder is needed to install the CRDs"
            env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
            subprocess.run([kubectl, "apply", "-f", str(crds)], check=True, env=env, capture_output=True)
            subprocess.run(
                [kubectl, "wait", "--for=condition=Established", "-f", str(crds), "--timeout=60s"],
                check=True,
                env=env,
                capture_output=True,
            )
        stack.__enter__()
        stack.start_operator()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def cluster(stack: LocalStack) -> Iterator[Cluster]:
    """A fresh namespace for one test; the emulator's faults and missing objects are cleared after it."""
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl = stack.kubectl if isinstance(stack, E2EStack) else "kubectl"
    admin = Cluster(stack.kubeconfig, "default", kubectl)
    admin.kubectl(
        "apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
    )
    yield Cluster(stack.kubeconfig, namespace, kubectl)
    stack.admin("DELETE", "faults")
    if stack.operator is None or not stack.operator.alive:
        stack.start_operator()
    admin.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
