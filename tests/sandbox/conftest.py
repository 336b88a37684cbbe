"""Fixtures of the fidelity suite: a cluster reached through a kubeconfig, a fresh namespace per test.

By default the cluster is the local Kubernetes API (started once per session in a thread).
With ``ENS_E2E_KUBECONFIG=/path/to/kubeconfig`` the same tests run against that real cluster:
the test CRD is installed there and every test works in its own namespace, deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fidelity_kit import TEST_CRD, Cluster, Gadgets, install_test_crd
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from ens_image_operator.sandbox.server import Sandbox, SandboxThread


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster under test: ``ENS_E2E_KUBECONFIG`` if set, else a local sandbox."""
    external = os.environ.get("ENS_E2E_KUBECONFIG")
    if external:
        path = Path(external)
        api_client = config.new_client_from_config(config_file=str(path))
        install_test_crd(api_client)
        yield Cluster(path, tmp_path_factory.mktemp("cluster"), api_client, None, None)
        api_client.close()
        return
    thread = SandboxThread(crds=[TEST_CRD])
    sandbox = thread.__enter__()
    path = sandbox.write_kubeconfig(tmp_path_factory.mktemp("sandbox") / "kubeconfig")
    api_client = config.new_client_from_config(config_file=str(path))
    try:
        yield Cluster(path, path.parent, api_client, sandbox, thread)
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
    if cluster.sandbox is None:
        pytest.skip("about the local sandbox itself; a real cluster is under test (ENS_E2E_KUBECONFIG)")
    return cluster.sandbox


@pytest.fixture
def gadgets(cluster: Cluster, namespace: str) -> Gadgets:
    return Gadgets(cluster, namespace)
