"""The chart's RBAC judged by a real API server's authorizer: the operator runs as the chart's ServiceAccount.

The chart's ServiceAccount, Roles and ClusterRoles are rendered with real Helm (``helm template
--show-only``) and applied to a real kube-apiserver with the CRDs; the operator runs locally with a
kubeconfig that carries only a token of that ServiceAccount (TokenRequest, ``kubectl create
token``), once as the default cluster-scoped install and once as a namespace-scoped one. With the
chart's rules every step of the lifecycle passes without one request refused; with a rule taken
away the operator names what it may not do and keeps running.

The control plane is this module's own: an operator of another suite watching every namespace
would act on these objects too and hide what this operator may not do.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.chart_tools import TOOLSETS, Toolset, install
from tests.cluster.controlplane import ControlPlane

from cluster import API_VERSION, Cluster, condition, ens_image, live_images, oss, unique
from ens_image_kit.stack import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    ChildProcess,
    LocalStack,
    free_port,
)

# The first test also starts this module's control plane.
pytestmark = pytest.mark.timeout(240)

RBAC_TEMPLATES = ("templates/serviceaccount.yaml", "templates/rbac.yaml")
# What a refused request looks like in the operator's log: kopf's APIForbiddenError, the API
# server's "... is forbidden: User ... cannot ...", or the operator's own "HTTP 403".
REFUSED = re.compile(r"\b403\b|forbidden", re.IGNORECASE)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
DEADLINE = 60.0


def admin(plane: ControlPlane, *args: str, stdin: str | None = None) -> str:
    """kubectl as the control plane's admin; its output. Fails the test on a non-zero exit."""
    result = subprocess.run(
        [str(plane.kubectl), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)},
        timeout=90,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr.strip()}"
    return result.stdout


def refusals(log: Path) -> list[str]:
    """The operator's log lines about a refused request (timestamps left out: ``,403`` is a time)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if REFUSED.search(TIMESTAMP.sub("", line))]


def eventually(what: str, check: Callable[[], bool], log: Path) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` with the operator's last lines otherwise."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
    pytest.fail(f"timed out waiting for {what}; operator log:\n{tail}", pytrace=False)


def without(docs: list[dict[str, Any]], group: str, resource: str, verb: str) -> list[dict[str, Any]]:
    """The RBAC documents with ``verb`` on ``group``/``resource`` taken out of every (Cluster)Role."""
    changed = copy.deepcopy(docs)
    removed = False
    for doc in changed:
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        rules = []
        for rule in doc.get("rules") or []:
            if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
                removed = True
                if others := [name for name in rule["resources"] if name != resource]:
                    rules.append({**rule, "resources": others})
                if verbs := [name for name in rule["verbs"] if name != verb]:
                    rules.append({**rule, "resources": [resource], "verbs": verbs})
            else:
                rules.append(rule)
        doc["rules"] = rules
    assert removed, f"no rule grants {verb} on {group or 'core'}/{resource}"
    return changed


@dataclass
class Install:
    """The chart's RBAC in a fresh release namespace, and the operator running as its ServiceAccount."""

    plane: ControlPlane
    scope: str  # "cluster" or "namespace", as the chart's installScope
    cluster: Cluster  # admin kubectl in the namespace the operator serves
    rbac: list[dict[str, Any]]
    log: Path
    operator: ChildProcess | None = None

    def apply_rbac(self, docs: list[dict[str, Any]]) -> None:
        admin(self.plane, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

    def refusals(self) -> list[str]:
        return refusals(self.log)


@pytest.fixture(scope="module")
def plane(private_control_plane: ControlPlane) -> ControlPlane:
    """A control plane of this module's own, with the CRDs Established."""
    return private_control_plane


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Toolset:
    where = install("helm3")
    return Toolset(
        label="helm3",
        helm_path=where / "helm" / "helm",
        kubectl_path=where / "kubectl" / "kubectl",
        kube_version=TOOLSETS["helm3"][2],
        home=tmp_path_factory.mktemp("helm3"),
    )


@pytest.fixture(scope="module")
def ens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The ENS emulator alone (the operators of this module are started by hand)."""
    stack = LocalStack(
        tmp_path_factory.mktemp("rbac-ens"),
        step_seconds=0.5,
        fast_poll_interval=0.5,
        operator_env={"ENS_OPERATOR_REQUEST_TIMEOUT": "5", "ENS_OPERATOR_LISTING_LAG": "10"},
    )
    try:
        stack.start_emulator()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def chart_rbac(plane: ControlPlane, helm: Toolset, tmp_path: Path) -> Callable[[str], Install]:
    """Render and apply the chart's ServiceAccount and RBAC for one scope; the operator not yet started."""

    def apply(scope: str) -> Install:
        suffix = uuid.uuid4().hex[:6]
        release, release_namespace, served = f"rbac-{suffix}", f"ens-{suffix}", f"team-{suffix}"
        values = {} if scope == "cluster" else {"installScope": "namespace", "watchNamespaces": [served]}
        flags = [arg for template in RBAC_TEMPLATES for arg in ("--show-only", template)]
        docs = helm.template(values, *flags, release=release, namespace=release_namespace)
        namespaces = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            for name in (release_namespace, served)
        ]
        served_cluster = Cluster(plane.kubeconfig, served, str(plane.kubectl))
        found = Install(plane, scope, served_cluster, docs, tmp_path / "operator.log")
        found.apply_rbac([*namespaces, *docs])
        return found

    return apply


@pytest.fixture
def run_operator(plane: ControlPlane, ens: LocalStack, tmp_path: Path) -> Iterator[Callable[[Install], None]]:
    """Start the operator as the chart's ServiceAccount: a kubeconfig with only its token."""
    started: list[ChildProcess] = []

    def start(setup: Install) -> None:
        (account,) = (doc for doc in setup.rbac if doc["kind"] == "ServiceAccount")
        name, namespace = account["metadata"]["name"], account["metadata"]["namespace"]
        token = admin(plane, "-n", namespace, "create", "token", name, "--duration=2h").strip()
        kubeconfig = tmp_path / "service-account.kubeconfig"
        cluster = {"server": plane.server, "certificate-authority": str(plane.pki / "ca.crt")}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "real", "cluster": cluster}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": "operator", "context": {"cluster": "real", "user": name}}],
            "current-context": "operator",
        }
        kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")
        scope = ["--all-namespaces"] if setup.scope == "cluster" else ["--namespace", setup.cluster.namespace]
        ens.health_port, ens.metrics_port = free_port(), free_port()
        env = ens.operator_environment({"KUBECONFIG": str(kubeconfig)})
        ens.operator = setup.operator = ChildProcess("operator", ["run", *scope], setup.log, env)
        started.append(setup.operator)
        ens.wait_operator_ready()

    yield start
    for process in started:
        process.terminate()


@pytest.fixture(params=["cluster", "namespace"])
def operator(
    request: pytest.FixtureRequest,
    chart_rbac: Callable[[str], Install],
    run_operator: Callable[[Install], None],
) -> Install:
    """The operator running with exactly the chart's RBAC, in cluster scope and in namespace scope."""
    setup = chart_rbac(request.param)
    run_operator(setup)
    return setup


def secret(name: str, key_secret: str) -> dict[str, Any]:
    keys = {"accessKeyId": DEFAULT_KEY_ID, "accessKeySecret": key_secret}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": keys}


# ---- the lifecycle with the chart's rules: nothing refused ---------------------------------------


def test_an_import_becomes_ready_with_no_request_refused(operator: Install) -> None:
    name = unique("import")
    operator.cluster.apply(ens_image(name, source=oss("web.qcow2")))
    assert operator.cluster.wait_condition("ensimage", name, "Ready")["status"]["imageId"].startswith("m-")
    assert operator.refusals() == []


def test_an_export_publishes_its_url_with_no_request_refused(operator: Install) -> None:
    image, export = unique("src"), unique("exp")
    operator.cluster.apply(ens_image(image, source=oss("web.qcow2")))
    spec = {"imageRef": {"name": image}, "ossBucket": "exports", "ossRegionId": "cn-beijing"}
    operator.cluster.apply(
        {"apiVersion": API_VERSION, "kind": "EnsImageExport", "metadata": {"name": export}, "spec": spec}
    )
    status = operator.cluster.wait_condition("ensimageexport", export, "Ready")["status"]
    assert status["exportedImageURL"]
    assert operator.refusals() == []


def test_the_catalogue_becomes_ready_with_no_request_refused(operator: Install) -> None:
    name = unique("catalog")
    catalog = {"apiVersion": API_VERSION, "kind": "EnsImageCatalog", "metadata": {"name": name}, "spec": {}}
    operator.cluster.apply(catalog)
    assert operator.cluster.wait_condition("ensimagecatalog", name, "Ready")["status"]["imageCount"] > 0
    assert operator.refusals() == []


def test_deleting_with_the_delete_policy_deletes_the_image_with_no_request_refused(
    operator: Install, ens: LocalStack
) -> None:
    name = unique("delete")
    operator.cluster.apply(ens_image(name, source=oss("web.qcow2"), deletionPolicy="Delete"))
    operator.cluster.wait_condition("ensimage", name, "Ready")
    operator.cluster.kubectl("delete", "ensimage", name, "--wait=false")
    operator.cluster.wait_gone("ensimage", name)
    assert live_images(ens, name) == []
    assert operator.refusals() == []


def test_deleting_with_the_retain_policy_keeps_the_image_with_no_request_refused(
    operator: Install, ens: LocalStack
) -> None:
    name = unique("retain")
    operator.cluster.apply(ens_image(name, source=oss("web.qcow2"), deletionPolicy="Retain"))
    image_id = operator.cluster.wait_condition("ensimage", name, "Ready")["status"]["imageId"]
    operator.cluster.kubectl("delete", "ensimage", name, "--wait=false")
    operator.cluster.wait_gone("ensimage", name)
    assert [image["ImageId"] for image in live_images(ens, name)] == [image_id]
    assert operator.refusals() == []


def test_a_wrong_secret_stalls_and_recovers_once_fixed_with_no_request_refused(operator: Install) -> None:
    name = unique("creds")
    operator.cluster.apply(secret("team-key", "wrong-secret"))
    operator.cluster.apply(ens_image(name, source=oss("web.qcow2"), credentialsRef={"name": "team-key"}))
    stalled = condition(operator.cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None and f"Secret {operator.cluster.namespace}/team-key" in stalled["message"]
    operator.cluster.apply(secret("team-key", DEFAULT_KEY_SECRET))
    operator.cluster.wait_condition("ensimage", name, "Ready", timeout=90)
    assert operator.refusals() == []


# ---- one rule taken away: the operator says what it may not do, and carries on -------------------


def test_without_patch_on_the_status_the_operator_logs_the_refusal_keeps_running_and_recovers(
    chart_rbac: Callable[[str], Install], run_operator: Callable[[Install], None]
) -> None:
    setup = chart_rbac("cluster")
    setup.apply_rbac(without(setup.rbac, "ens.image-operator.io", "ensimages/status", "patch"))
    run_operator(setup)
    name = unique("nopatch")
    setup.cluster.apply(ens_image(name, source=oss("web.qcow2")))

    def named() -> list[str]:
        return [line for line in setup.refusals() if 'cannot patch resource "ensimages/status"' in line]

    eventually("a log line naming patch on ensimages/status, twice", lambda: len(named()) >= 2, setup.log)
    assert setup.operator is not None and setup.operator.alive
    setup.apply_rbac(setup.rbac)
    setup.cluster.wait_condition("ensimage", name, "Ready")
    assert setup.operator.alive


def test_without_get_on_secrets_the_image_is_stalled_naming_the_secret_it_may_not_read(
    chart_rbac: Callable[[str], Install], run_operator: Callable[[Install], None]
) -> None:
    setup = chart_rbac("cluster")
    setup.apply_rbac(without(setup.rbac, "", "secrets", "get"))
    run_operator(setup)
    name = unique("nosecret")
    setup.cluster.apply(secret("team-key", DEFAULT_KEY_SECRET))
    setup.cluster.apply(ens_image(name, source=oss("web.qcow2"), credentialsRef={"name": "team-key"}))
    stalled = condition(setup.cluster.wait_condition("ensimage", name, "Stalled"), "Stalled")
    assert stalled is not None
    assert f"not allowed to read Secret {setup.cluster.namespace}/team-key" in stalled["message"]

    def named() -> list[str]:
        return [line for line in setup.refusals() if 'cannot get resource "secrets"' in line]

    eventually("a log line naming get on secrets", lambda: bool(named()), setup.log)
    assert setup.operator is not None and setup.operator.alive


def test_without_create_on_events_the_operator_logs_the_refusal_and_still_imports(
    chart_rbac: Callable[[str], Install], run_operator: Callable[[Install], None]
) -> None:
    setup = chart_rbac("cluster")
    setup.apply_rbac(without(setup.rbac, "", "events", "create"))
    run_operator(setup)
    name = unique("noevents")
    setup.cluster.apply(ens_image(name, source=oss("web.qcow2")))
    setup.cluster.wait_condition("ensimage", name, "Ready")

    def named() -> list[str]:
        return [line for line in setup.refusals() if 'cannot create resource "events"' in line]

    eventually("a log line naming create on events", lambda: bool(named()), setup.log)
    assert setup.operator is not None and setup.operator.alive
