"""`kubectl kustomize manifests` builds valid manifests of the same operator the chart installs."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chart_tools import MANIFESTS, REPO, Toolset

NAMESPACE = "ens-image-operator-system"
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def without_labels(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus labels and annotations, where the chart adds Helm's bookkeeping."""
    stripped = copy.deepcopy(obj)
    for meta in (stripped["metadata"], stripped.get("spec", {}).get("template", {}).get("metadata", {})):
        meta.pop("labels", None)
        meta.pop("annotations", None)
    return stripped


@pytest.fixture(scope="module")
def chart_default(toolsets: dict[str, Toolset]) -> list[dict[str, Any]]:
    """The chart's default render under the names the kustomize base uses."""
    return toolsets["helm3"].template(release="ens-image-operator", namespace=NAMESPACE)


def test_kustomize_builds_the_whole_operator(tools: Toolset) -> None:
    kinds = sorted(doc["kind"] for doc in tools.kustomize(MANIFESTS))
    assert kinds == sorted(
        ["Namespace", "ServiceAccount", "Deployment", "Service"]
        + ["ClusterRole", "ClusterRoleBinding"] * 2
        + ["CustomResourceDefinition"] * 3
    )


@pytest.mark.parametrize("kube_version", ["1.31.0", "1.35.0"])
def test_kustomize_output_is_valid_kubernetes(tools: Toolset, kube_version: str) -> None:
    for doc in tools.kustomize(MANIFESTS):
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            first_line = str(error).splitlines()[0]
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} invalid for {kube_version}: {first_line}")


def test_every_namespaced_object_lands_in_the_operator_namespace(tools: Toolset) -> None:
    docs = tools.kustomize(MANIFESTS)
    for doc in docs:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]
    for binding in of_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_kustomize_rbac_has_no_wildcard(tools: Toolset) -> None:
    for role in of_kind(tools.kustomize(MANIFESTS), "ClusterRole"):
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], rule


def test_kustomize_deployment_equals_the_chart_default(
    tools: Toolset, chart_default: list[dict[str, Any]]
) -> None:
    (ours,) = of_kind(tools.kustomize(MANIFESTS), "Deployment")
    (chart,) = of_kind(chart_default, "Deployment")
    assert without_labels(ours) == without_labels(chart)


def test_kustomize_rbac_equals_the_chart_default(tools: Toolset, chart_default: list[dict[str, Any]]) -> None:
    def rbac(docs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            (doc["kind"], doc["metadata"]["name"]): {
                key: doc.get(key) for key in ("rules", "roleRef", "subjects")
            }
            for doc in docs
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding")
        }

    assert rbac(tools.kustomize(MANIFESTS)) == rbac(chart_default)


def test_kustomize_service_equals_the_chart_default(
    tools: Toolset, chart_default: list[dict[str, Any]]
) -> None:
    (ours,) = of_kind(tools.kustomize(MANIFESTS), "Service")
    (chart,) = of_kind(chart_default, "Service")
    assert without_labels(ours) == without_labels(chart)


def test_argocd_application_points_at_the_chart() -> None:
    app = yaml.safe_load((MANIFESTS / "argocd" / "application.yaml").read_text())
    source = app["spec"]["source"]
    chart = yaml.safe_load((REPO / source["path"] / "Chart.yaml").read_text())
    assert source["targetRevision"] == f"v{chart['version']}"
    values = source["helm"]["valuesObject"]
    assert set(values) <= set(yaml.safe_load((REPO / source["path"] / "values.yaml").read_text()))
    assert app["spec"]["destination"]["namespace"] == NAMESPACE
