"""Fixtures of the fidelity suite: a cluster reached through a kubeconfig, a fresh namespace per test.

Every test runs twice: against the local Kubernetes API (``sandbox``, started once per session in a
thread) and against the real kube-apiserver of ``tests/cluster`` (``real``). With
``ENS_E2E_KUBECONFIG=/path/to/kubeconfig`` they run once, against that cluster (``external``).
On a real API server the test CRD is installed and every test works in its own namespace, deleted
afterwards. Tests about the sandbox itself (fixture ``local``) run on the sandbox only.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fidelity_kit import TEST_CRD, Cluster, Gadgets, install_test_crd
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from ens_image_kit.sandbox.server import Sandbox, SandboxThread

EXTERNAL = os.environ.get("ENS_E2E_KUBECONFIG")


@pytest.hookimpl(tryfirst=True)  # before pytest turns the fixture's params into tests
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests about the sandbox itself (they use ``local``) get the sandbox target only."""
    if "local" in metafunc.fixturenames:
        metafunc.definition.add_marker(
            pytest.mark.parametrize("cluster", ["sandbox"], indirect=True, scope="session")
        )


@pytest.fixture(scope="session", params=["external"] if EXTERNAL else ["sandbox", "real"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster under test: the local sandbox, the real control plane, or ``ENS_E2E_KUBECONFIG``."""
    if request.param != "sandbox":
        if request.param == "real":
            plane = request.getfixturevalue("control_plane")
            path, kubectl = plane.kubeconfig, str(plane.kubectl)
        else:
            path, kubectl = Path(str(EXTERNAL)), shutil.which("kubectl") or "kubectl"
        api_client = config.new_client_from_config(config_file=str(path))
        install_test_crd(api_client)
        yield Cluster(path, tmp_path_factory.mktemp("cluster"), api_client, None, None, kubectl)
        api_client.close()
        return
    thread = SandboxThread(crds=[TEST_CRD])
    sandbox = thread.__enter__()
    path = sandbox.write_kubeconfig(tmp_path_factory.mktemp("sandbox") / "kubeconfig")
    api_client = config.new_client_from_config(config_file=str(path))
    try:
        yield Cluster(path, path.parent, api_client, sandbox, thread, shutil.which("kubectl") or "kubectl")
    finally:
        api_client.close()
        thread.__exit__(None, None, None)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"fid-{uuid.uuid4().hex[:8]}"
    cluster.core.create_namespace({"metadata": {"name": name}})
    yield name
    try:
        cluster.core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise


@pytest.fixture
def local(cluster: Cluster) -> Sandbox:
    """The local sandbox itself, for the few tests about the sandbox rather than the API."""
    assert cluster.sandbox is not None, "tests using `local` are parametrized to the sandbox only"
    return cluster.sandbox


@pytest.fixture
def gadgets(cluster: Cluster, namespace: str) -> Gadgets:
    return Gadgets(cluster, namespace)
