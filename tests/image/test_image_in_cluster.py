"""The image in-cluster style, against a real kube-apiserver: the login path every pod takes.

The chart's ServiceAccount and RBAC are applied as `helm template` renders them; the operator gets
that ServiceAccount's token, ``ca.crt`` and ``namespace`` at the service-account path and
``KUBERNETES_SERVICE_HOST``/``_PORT``, and no kubeconfig: what a kubelet gives the chart's pod.

The control plane is this module's own: an operator of another suite watching every namespace
would otherwise make the import Ready whether or not this one logged in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from imagekit import Pod, StartPod, import_until_ready, kubectl
from tests.chart.chart_tools import TOOLSETS, Toolset, install
from tests.cluster.controlplane import ControlPlane

# A cold run installs the tools, debootstraps the base, builds the image and the control plane first.
pytestmark = pytest.mark.timeout(1200)

RELEASE = NAMESPACE = "ens-image-operator"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RBAC_TEMPLATES = ("templates/serviceaccount.yaml", "templates/rbac.yaml")


def admin_kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> str:
    return kubectl(plane.kubeconfig, *args, stdin=stdin, binary=str(plane.kubectl))


@pytest.fixture(scope="module")
def plane(private_control_plane: ControlPlane) -> ControlPlane:
    """A control plane of this module's own, with the CRDs Established."""
    return private_control_plane


@pytest.fixture(scope="module")
def service_account(plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The release namespace, and the chart's ServiceAccount and RBAC, applied; the SA's name."""
    where = install("helm3")
    helm = Toolset(
        label="helm3",
        helm_path=where / "helm" / "helm",
        kubectl_path=where / "kubectl" / "kubectl",
        kube_version=TOOLSETS["helm3"][2],
        home=tmp_path_factory.mktemp("helm3"),
    )
    flags = [arg for template in RBAC_TEMPLATES for arg in ("--show-only", template)]
    rbac = helm.template(None, *flags, release=RELEASE, namespace=NAMESPACE)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    admin_kubectl(plane, "apply", "-f", "-", stdin=yaml.safe_dump_all([namespace, *rbac]))
    (name,) = (doc["metadata"]["name"] for doc in rbac if doc["kind"] == "ServiceAccount")
    return str(name)


@pytest.fixture
def in_cluster_pod(start_pod: StartPod, plane: ControlPlane, service_account: str, tmp_path: Path) -> Pod:
    """The operator from the image with the service-account volume and the service environment."""
    volume = tmp_path / "serviceaccount"
    volume.mkdir()
    token = admin_kubectl(plane, "-n", NAMESPACE, "create", "token", service_account)
    (volume / "token").write_text(token.strip())
    (volume / "namespace").write_text(NAMESPACE)
    shutil.copyfile(plane.pki / "ca.crt", volume / "ca.crt")
    # The serving certificate names 127.0.0.1, the address a pod would reach the Service at here.
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(plane.port)}
    return start_pod(env, {volume: SERVICE_ACCOUNT_DIR})


def test_the_operator_in_the_image_logs_in_with_its_service_account_and_imports_an_image(
    in_cluster_pod: Pod, plane: ControlPlane
) -> None:
    assert in_cluster_pod.wait_live() == 200
    image_id = import_until_ready(plane.kubeconfig, binary=str(plane.kubectl))
    assert image_id.startswith("m-")
