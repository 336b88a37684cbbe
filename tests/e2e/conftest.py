"""The end-to-end stack: ENS emulator + local Kubernetes API + a real ``ens-image-operator run``.

Set ENS_E2E_KUBECONFIG to run the same tests against a real cluster: the local Kubernetes API is
then not started, the CRDs are applied to that cluster, and every test gets a fresh namespace.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster

from ens_image_operator.stack import LocalStack, find_crds_dir

REAL_KUBECONFIG = os.environ.get("ENS_E2E_KUBECONFIG")
STEP_SECONDS = 0.5
FAST_POLL = 0.5


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("e2e")
    stack = LocalStack(
        workdir,
        step_seconds=STEP_SECONDS,
        fast_poll_interval=FAST_POLL,
        operator_env={"ENS_OPERATOR_SLOW_POLL_INTERVAL": "5", "ENS_OPERATOR_REQUEST_TIMEOUT": "5"},
    )
    try:
        if REAL_KUBECONFIG:
            stack.workdir.mkdir(parents=True, exist_ok=True)
            stack.kubeconfig = Path(REAL_KUBECONFIG)
            stack.start_emulator()
            crds = find_crds_dir()
            assert crds is not None, "the crds/ folder is needed to install the CRDs"
            subprocess.run(
                ["kubectl", "apply", "-f", str(crds)],
                check=True,
                env={**os.environ, "KUBECONFIG": REAL_KUBECONFIG},
                capture_output=True,
            )
        else:
            stack.__enter__()
        stack.start_operator()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def cluster(stack: LocalStack) -> Iterator[Cluster]:
    """A fresh namespace for one test; the emulator's faults and missing objects are cleared after it."""
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    admin = Cluster(stack.kubeconfig, "default")
    admin.kubectl(
        "apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
    )
    yield Cluster(stack.kubeconfig, namespace)
    stack.admin("DELETE", "faults")
    if stack.operator is None or not stack.operator.alive:
        stack.start_operator()
    admin.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
