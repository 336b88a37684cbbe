"""The Helm chart renders valid, least-privilege, locked-down manifests with Helm 3 and Helm 4."""

from __future__ import annotations

import re
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chart_tools import CHART, REPO, VALUE_SETS, Toolset

from ens_image_operator.settings import Settings

# Kinds that are not part of Kubernetes itself: their schemas come from CRDs, not from the API.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ClusterKopfPeering", "KopfPeering"}
KUBERNETES_VERSIONS = ["1.31.0", "1.35.0"]
# Settings fields configured outside the `operator:` block (watchNamespaces, peering.*).
SETTINGS_OUTSIDE_OPERATOR_BLOCK = {
    "namespaces",
    "adoption_namespaces",
    "peering",
    "priority",
    "peering_lifetime",
}


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = of_kind(docs, "Deployment")
    return found


def container_env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Name -> value (or valueFrom) of the operator container's environment."""
    (container,) = deployment(docs)["spec"]["template"]["spec"]["containers"]
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container["env"]}


def camel_to_env(key: str) -> str:
    return "ENS_OPERATOR_" + re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for doc in docs if doc["kind"] in ("ClusterRole", "Role") for rule in doc["rules"]]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_helm_lint_passes(tools: Toolset, value_set: str) -> None:
    done = tools.helm("lint", "--strict", str(CHART), values=VALUE_SETS[value_set])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_rendered_objects_are_valid_kubernetes(tools: Toolset, value_set: str, kube_version: str) -> None:
    # The CRDs do not depend on values: validate them with the default set only.
    docs = tools.template(VALUE_SETS[value_set], *(["--include-crds"] if value_set == "default" else []))
    checked = 0
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            first_line = str(error).splitlines()[0]
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} invalid for {kube_version}: {first_line}")
        checked += 1
    assert checked >= 6 + (5 if value_set == "default" else 0)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_no_rbac_rule_uses_a_wildcard(tools: Toolset, value_set: str) -> None:
    docs = tools.template(VALUE_SETS[value_set])
    assert rules(docs)
    for rule in rules(docs):
        for key in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert "*" not in rule.get(key, []), rule


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_operator_pod_is_locked_down(tools: Toolset, value_set: str) -> None:
    pod = deployment(tools.template(VALUE_SETS[value_set]))["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        assert isinstance(pod["securityContext"][key], int) and pod["securityContext"][key] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_probes_target_the_health_endpoint(tools: Toolset, value_set: str) -> None:
    (container,) = deployment(tools.template(VALUE_SETS[value_set]))["spec"]["template"]["spec"]["containers"]
    health_port = next(port for port in container["ports"] if port["name"] == "health")
    assert health_port["containerPort"] == 8081
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_default_render_runs_one_standalone_operator_on_all_namespaces(tools: Toolset) -> None:
    docs = tools.template({})
    spec = deployment(docs)["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    assert container["args"] == ["--all-namespaces"]
    assert "ENS_OPERATOR_PEERING" not in container_env(docs)
    assert of_kind(docs, "Role") == []


def test_default_image_tag_is_the_app_version(tools: Toolset) -> None:
    (container,) = deployment(tools.template({}))["spec"]["template"]["spec"]["containers"]
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert container["image"] == f"ens-image-operator:{app_version}"


def test_every_operator_value_becomes_its_settings_variable(tools: Toolset) -> None:
    env = container_env(tools.template({}))
    operator_values = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]
    for key, value in operator_values.items():
        assert env[camel_to_env(key)] == str(value), key


def test_operator_block_maps_one_to_one_onto_settings_with_the_same_defaults() -> None:
    operator_values = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]
    fields = Settings.model_fields
    by_env = {camel_to_env(key): key for key in operator_values}
    expected = {
        f"ENS_OPERATOR_{name.upper()}" for name in fields if name not in SETTINGS_OUTSIDE_OPERATOR_BLOCK
    }
    missing, stale = sorted(expected - set(by_env)), sorted(set(by_env) - expected)
    assert not missing, (
        f"Settings fields without a chart value: {missing}; add each as operator.<camelCase> to "
        "values.yaml, values.schema.json, templates/deployment.yaml and the table in docs/install.md"
    )
    assert not stale, f"chart values for settings that no longer exist: {stale}"
    for name, info in fields.items():
        if name in SETTINGS_OUTSIDE_OPERATOR_BLOCK:
            continue
        assert operator_values[by_env[f"ENS_OPERATOR_{name.upper()}"]] == info.default, name


def test_settings_accept_the_rendered_environment(tools: Toolset, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"operator": {"qps": 2.5, "maxAttempts": 7, "logFormat": "json", "importTimeout": 10800}}
    env = container_env(tools.template(values))
    for name, value in env.items():
        if name.startswith("ENS_OPERATOR_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.qps, settings.max_attempts, settings.log_format) == (2.5, 7, "json")
    assert settings.import_timeout == 10800.0


def test_rate_limits_map_reaches_the_settings_as_json(
    tools: Toolset, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(tools.template({"operator": {"rateLimits": {"ImportImage": 5, "DeleteImage": 0.5}}}))
    monkeypatch.setenv("ENS_OPERATOR_RATE_LIMITS", env["ENS_OPERATOR_RATE_LIMITS"])
    assert Settings().rate_limits == {"ImportImage": 5.0, "DeleteImage": 0.5}


def test_namespace_scope_grants_a_role_in_each_watched_namespace_only(tools: Toolset) -> None:
    docs = tools.template(VALUE_SETS["namespace-scope"])
    assert sorted(role["metadata"]["namespace"] for role in of_kind(docs, "Role")) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in of_kind(docs, "RoleBinding")) == ["team-a", "team-b"]
    cluster_resources = {
        res for role in of_kind(docs, "ClusterRole") for r in role["rules"] for res in r["resources"]
    }
    assert cluster_resources == {"customresourcedefinitions", "namespaces"}


def test_namespace_scope_passes_each_namespace_to_the_operator(tools: Toolset) -> None:
    (container,) = deployment(tools.template(VALUE_SETS["namespace-scope"]))["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["args"] == ["--namespace", "team-a", "--namespace", "team-b"]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_secrets_can_only_be_read_one_by_one(tools: Toolset, value_set: str) -> None:
    secret_rules = [
        rule for rule in rules(tools.template(VALUE_SETS[value_set])) if "secrets" in rule["resources"]
    ]
    assert secret_rules
    assert all(rule["verbs"] == ["get"] for rule in secret_rules)


def test_custom_resources_are_never_created_or_deleted_by_the_operator(tools: Toolset) -> None:
    ours = [rule for rule in rules(tools.template({})) if rule["apiGroups"] == ["ens.image-operator.io"]]
    verbs = {verb for rule in ours for verb in rule["verbs"]}
    assert verbs == {"get", "list", "watch", "patch"}
    assert {"ensimages/status", "ensimageexports/status", "ensimagecatalogs/status"} <= {
        res for rule in ours for res in rule["resources"]
    }


def test_rrsa_mounts_a_projected_token_for_sts(tools: Toolset) -> None:
    docs = tools.template(VALUE_SETS["rrsa"])
    pod = deployment(docs)["spec"]["template"]["spec"]
    env = container_env(docs)
    assert env["ALIBABA_CLOUD_ROLE_ARN"] == "acs:ram::123456789012:role/ens-image-operator"
    assert env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"] == "acs:ram::123456789012:oidc-provider/ack-rrsa-c0ffee"
    token_file = env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"]
    assert token_file == "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token"
    (volume,) = [v for v in pod["volumes"] if "projected" in v]
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "sts.aliyuncs.com"
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert f"{mount['mountPath']}/{source['serviceAccountToken']['path']}" == token_file
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" not in env


def test_rrsa_keeps_service_account_annotations(tools: Toolset) -> None:
    (account,) = of_kind(tools.template(VALUE_SETS["rrsa"]), "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "pod-identity.alibabacloud.com/role-name": "ens-image-operator"
    }


def test_created_secret_feeds_the_access_key_variables(tools: Toolset) -> None:
    docs = tools.template(VALUE_SETS["create-secret"])
    (secret,) = of_kind(docs, "Secret")
    assert secret["stringData"] == {"accessKeyId": "LTAI-example", "accessKeySecret": "s3cr3t"}
    env = container_env(docs)
    assert env["ALIBABA_CLOUD_ACCESS_KEY_ID"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": "accessKeyId",
    }
    assert env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert "s3cr3t" not in yaml.safe_dump(deployment(docs))


def test_existing_secret_is_referenced_not_created(tools: Toolset) -> None:
    docs = tools.template(VALUE_SETS["existing-secret"])
    assert of_kind(docs, "Secret") == []
    ref = container_env(docs)["ALIBABA_CLOUD_ACCESS_KEY_ID"]["secretKeyRef"]
    assert ref == {"name": "ens-operator-credentials", "key": "accessKeyId"}


def test_no_credentials_mode_leaves_credentials_to_namespace_secrets(tools: Toolset) -> None:
    env = container_env(tools.template({}))
    assert not [name for name in env if name.startswith("ALIBABA_CLOUD_")]
    assert env["ENS_OPERATOR_DEFAULT_SECRET_NAME"] == "ens-credentials"


def test_peering_runs_replicas_with_derived_priorities_and_a_peering_object(tools: Toolset) -> None:
    docs = tools.template(VALUE_SETS["peering-2-replicas"])
    env = container_env(docs)
    assert deployment(docs)["spec"]["replicas"] == 2
    assert deployment(docs)["spec"]["strategy"]["type"] == "RollingUpdate"
    assert env["ENS_OPERATOR_PEERING"] == "ens-image-operator"
    assert env["ENS_OPERATOR_PRIORITY"] == "0"
    (peering,) = of_kind(docs, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "ens-image-operator"
    peering_rules = [rule for rule in rules(docs) if rule["apiGroups"] == ["kopf.dev"]]
    assert peering_rules == [
        {
            "apiGroups": ["kopf.dev"],
            "resources": ["clusterkopfpeerings"],
            "verbs": ["get", "list", "watch", "patch"],
        }
    ]


def test_namespaced_peering_creates_a_peering_object_per_namespace(tools: Toolset) -> None:
    values = {**VALUE_SETS["namespace-scope"], "peering": {"enabled": True}, "replicaCount": 2}
    docs = tools.template(values)
    assert sorted(p["metadata"]["namespace"] for p in of_kind(docs, "KopfPeering")) == ["team-a", "team-b"]
    assert of_kind(docs, "ClusterKopfPeering") == []


def test_chart_ships_kopf_peering_crds(tools: Toolset) -> None:
    crds = of_kind(tools.template({}, "--include-crds"), "CustomResourceDefinition")
    names = {crd["metadata"]["name"] for crd in crds}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= names
    assert {"ensimages.ens.image-operator.io", "ensimageexports.ens.image-operator.io"} <= names


def test_service_monitor_and_pdb_select_the_operator_pod(tools: Toolset) -> None:
    docs = tools.template(VALUE_SETS["servicemonitor-pdb"])
    pod_labels = deployment(docs)["spec"]["template"]["metadata"]["labels"]
    (monitor,) = of_kind(docs, "ServiceMonitor")
    (service,) = of_kind(docs, "Service")
    (budget,) = of_kind(docs, "PodDisruptionBudget")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_metrics_port_zero_drops_the_metrics_service(tools: Toolset) -> None:
    docs = tools.template({"operator": {"metricsPort": 0}})
    assert of_kind(docs, "Service") == []
    assert container_env(docs)["ENS_OPERATOR_METRICS_PORT"] == "0"


def test_pod_settings_are_passed_through(tools: Toolset) -> None:
    values = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}],
        "podAnnotations": {"example.com/team": "edge"},
        "podLabels": {"team": "edge"},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "imagePullSecrets": [{"name": "registry"}],
        "image": {"repository": "registry.example.com/ens-image-operator", "tag": "0.1.0-rc1"},
    }
    docs = tools.template(values)
    pod = deployment(docs)["spec"]["template"]
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["spec"]["tolerations"] == values["tolerations"]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["metadata"]["annotations"]["example.com/team"] == "edge"
    assert pod["metadata"]["labels"]["team"] == "edge"
    assert pod["spec"]["containers"][0]["image"] == "registry.example.com/ens-image-operator:0.1.0-rc1"
    assert container_env(docs)["HTTPS_PROXY"] == "http://proxy:3128"


def test_chart_app_version_is_the_package_version() -> None:
    package = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == package
    assert chart["version"] == package


@pytest.mark.parametrize(
    ("value_set", "advice"),
    [
        ("default", "kubectl -n <namespace> create secret generic ens-credentials"),
        ("existing-secret", "AccessKey in Secret ens-system/ens-operator-credentials"),
        ("rrsa", "assumes acs:ram::123456789012:role/ens-image-operator through RRSA"),
        ("peering-2-replicas", "one of the 2 replicas is active"),
        ("namespace-scope", "watching: team-a, team-b"),
    ],
)
def test_install_notes_tell_what_to_do_next(
    toolsets: dict[str, Toolset], value_set: str, advice: str
) -> None:
    # Only Helm 4 prints NOTES offline (Helm 3's --dry-run=client still asks a cluster for its
    # version); Helm 3 renders NOTES.txt in every `helm lint` above.
    notes = toolsets["helm4"].notes(VALUE_SETS[value_set])
    assert "kubectl -n ens-system rollout status deployment/ens-ens-image-operator" in notes
    assert advice in " ".join(notes.split())


def test_rbac_can_be_left_to_the_cluster_admin(tools: Toolset) -> None:
    docs = tools.template({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "ens-sa"}})
    assert not [doc for doc in docs if doc["apiVersion"].startswith("rbac.authorization.k8s.io/")]
    assert of_kind(docs, "ServiceAccount") == []
    assert deployment(docs)["spec"]["template"]["spec"]["serviceAccountName"] == "ens-sa"


def test_pdb_min_available_wins_over_max_unavailable(tools: Toolset) -> None:
    values = {"podDisruptionBudget": {"enabled": True, "minAvailable": 1}, **VALUE_SETS["peering-2-replicas"]}
    (budget,) = of_kind(tools.template(values), "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in budget["spec"]


def test_cluster_scope_can_still_watch_selected_namespaces(tools: Toolset) -> None:
    docs = tools.template({"watchNamespaces": ["team-a"], "peering": {"enabled": True}, "replicaCount": 2})
    (container,) = deployment(docs)["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["--namespace", "team-a"]
    assert of_kind(docs, "Role") == []
    assert [p["metadata"]["namespace"] for p in of_kind(docs, "KopfPeering")] == ["team-a"]
    assert {
        "apiGroups": ["kopf.dev"],
        "resources": ["kopfpeerings"],
        "verbs": ["get", "list", "watch", "patch"],
    } in rules(docs)


def test_chart_refuses_clusters_older_than_it_supports(tools: Toolset) -> None:
    error = tools.template_error({}, "--kube-version", "1.24.0")
    assert "incompatible with Kubernetes v1.24.0" in error, error


def test_packaged_chart_holds_templates_crds_and_schema_only(tools: Toolset, tmp_path: Path) -> None:
    done = tools.helm("package", str(CHART), "--destination", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (archive,) = tmp_path.glob("ens-image-operator-*.tgz")
    with tarfile.open(archive) as tar:
        names = {name.removeprefix("ens-image-operator/") for name in tar.getnames()}
    assert {"Chart.yaml", "values.yaml", "values.schema.json", "templates/NOTES.txt"} <= names
    assert {"crds/ensimages.ens.image-operator.io.yaml", "crds/kopf/peering.kopf.dev.yaml"} <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith((".orig", ".swp"))]
