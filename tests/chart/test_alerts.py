"""The chart's PrometheusRule and Grafana dashboard: valid for promtool, each alert proven to fire and
to stay silent, and every metric they use one that a running operator really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from chart_tools import CHART, REPO, Toolset
from prometheus_client.parser import text_string_to_metric_families

from ens_image_kit.stack import LocalStack

HERE = Path(__file__).resolve().parent
UNIT_TESTS = HERE / "alerts_test.yaml"
ANNOTATION_TESTS = HERE / "alerts_annotations_test.yaml"
DASHBOARD = CHART / "dashboards" / "ens-image-operator.json"
ALERTS_DOC = REPO / "docs" / "alerts.md"
ENABLED = {"prometheusRule": {"enabled": True}, "grafanaDashboard": {"enabled": True}}
# Series Prometheus makes itself, not the operator.
PROMETHEUS_OWN = {"up"}
ALERTS = {
    "EnsOperatorAbsent",
    "EnsOperatorNotReconciling",
    "EnsOperatorNoActiveReplica",
    "EnsOperatorObjectsNotReady",
    "EnsOperatorObjectsStalled",
    "EnsOperatorImportDeadlineExceeded",
    "EnsOperatorExportDeadlineExceeded",
    "EnsOperatorEnsThrottled",
    "EnsOperatorEnsErrorRateHigh",
}


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def rule_groups(tools: Toolset, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    (rule,) = of_kind(tools.template(values or ENABLED), "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alert_rules(tools: Toolset, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [rule for group in rule_groups(tools, values) for rule in group["rules"]]


def promtool_run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def write_rules(tmp_path: Path, groups: list[dict[str, Any]]) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**group, "rules": [{k: v for k, v in rule.items() if k != "annotations"} for rule in group["rules"]]}
        for group in groups
    ]


def metric_names(expr: str) -> set[str]:
    """Series names an expression selects: every name right before a `{` label matcher."""
    return set(re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\{", expr))


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    panels = [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]
    variables = [var["query"]["query"] for var in dashboard()["templating"]["list"] if var["type"] == "query"]
    return panels + variables


# --- rendering ---------------------------------------------------------------------------------


def test_default_render_has_neither_rule_nor_dashboard(tools: Toolset) -> None:
    docs = tools.template({})
    assert of_kind(docs, "PrometheusRule") == []
    assert [doc for doc in of_kind(docs, "ConfigMap") if "dashboard" in doc["metadata"]["name"]] == []


def test_enabled_render_holds_the_rule_and_the_dashboard_config_map(tools: Toolset) -> None:
    docs = tools.template(ENABLED)
    (rule,) = of_kind(docs, "PrometheusRule")
    (config_map,) = of_kind(docs, "ConfigMap")
    assert rule["metadata"]["namespace"] == config_map["metadata"]["namespace"] == "ens-system"
    assert {alert["alert"] for alert in alert_rules(tools)} == ALERTS
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["ens-image-operator.json"]) == dashboard()


def test_labels_namespace_and_sidecar_label_are_values(tools: Toolset) -> None:
    values = {
        "prometheusRule": {
            "enabled": True,
            "additionalLabels": {"release": "prometheus"},
            "alertLabels": {"team": "edge"},
            "runbookBaseUrl": "https://docs.example.com/ens/alerts.md",
            "job": "ens-operator",
        },
        "grafanaDashboard": {
            "enabled": True,
            "labelKey": "dashboards.example.com/load",
            "labelValue": "yes",
            "namespace": "monitoring",
            "annotations": {"grafana_folder": "ENS"},
        },
    }
    docs = tools.template(values)
    (rule,) = of_kind(docs, "PrometheusRule")
    (config_map,) = of_kind(docs, "ConfigMap")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    for alert in alert_rules(tools, values):
        assert alert["labels"]["team"] == "edge"
        assert alert["annotations"]["runbook_url"].startswith("https://docs.example.com/ens/alerts.md#")
        assert 'job="ens-operator"' in alert["expr"]
    assert config_map["metadata"]["labels"]["dashboards.example.com/load"] == "yes"
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "ENS"}


def test_thresholds_and_durations_are_values(tools: Toolset) -> None:
    values = {
        "prometheusRule": {
            "enabled": True,
            "alerts": {
                "ensThrottled": {"ratio": 0.3, "for": "45m"},
                "notReady": {"for": {"EnsImage": "4h", "EnsImageExport": "3h", "EnsImageCatalog": "1h"}},
                "notReconciling": {"window": "1h"},
            },
        }
    }
    alerts = alert_rules(tools, values)
    (throttled,) = [a for a in alerts if a["alert"] == "EnsOperatorEnsThrottled"]
    assert throttled["for"] == "45m" and throttled["expr"].rstrip().endswith("> 0.3")
    not_ready = {
        kind: a["for"]
        for a in alerts
        if a["alert"] == "EnsOperatorObjectsNotReady"
        for kind in re.findall(r'kind="(\w+)"', a["expr"])
    }
    assert not_ready == {"EnsImage": "4h", "EnsImageExport": "3h", "EnsImageCatalog": "1h"}
    (stuck,) = [a for a in alerts if a["alert"] == "EnsOperatorNotReconciling"]
    assert "[1h]" in stuck["expr"]


def test_a_disabled_alert_is_left_out(tools: Toolset) -> None:
    values = {"prometheusRule": {"enabled": True, "alerts": {"absent": {"enabled": False}}}}
    names = {alert["alert"] for alert in alert_rules(tools, values)}
    assert names == ALERTS - {"EnsOperatorAbsent"}


def test_every_alert_explains_itself_and_links_its_runbook_section(tools: Toolset) -> None:
    anchors = {
        re.sub(r"[^a-z0-9-]", "", line.lstrip("#").strip().lower().replace(" ", "-"))
        for line in ALERTS_DOC.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in alert_rules(tools):
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], alert["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/alerts.md" and anchor == alert["alert"].lower(), annotations["runbook_url"]
        assert anchor in anchors, f"docs/alerts.md has no section for {alert['alert']}"


# --- promtool --------------------------------------------------------------------------------


def test_promtool_checks_the_rendered_rule_groups(
    toolsets: dict[str, Toolset], promtool: Path, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, rule_groups(toolsets["helm4"]))
    done = promtool_run(promtool, "check", "rules", "--lint=all", "--lint-fatal", str(rules), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules(toolsets['helm4']))} rules found" in done.stdout + done.stderr


def test_each_alert_fires_and_stays_silent_in_promtool_unit_tests(
    toolsets: dict[str, Toolset], promtool: Path, tmp_path: Path
) -> None:
    write_rules(tmp_path, without_annotations(rule_groups(toolsets["helm4"])))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    done = promtool_run(promtool, "test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_cover_firing_and_silence_of_every_alert() -> None:
    cases = [
        case for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]
    ]
    fires = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert fires == ALERTS and silent == ALERTS


def test_alert_annotations_expand_with_labels_and_values(
    toolsets: dict[str, Toolset], promtool: Path, tmp_path: Path
) -> None:
    write_rules(tmp_path, rule_groups(toolsets["helm4"]))
    shutil.copy(ANNOTATION_TESTS, tmp_path / ANNOTATION_TESTS.name)
    done = promtool_run(promtool, "test", "rules", ANNOTATION_TESTS.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the dashboard ---------------------------------------------------------------------------


def test_dashboard_is_a_grafana_dashboard_of_prometheus_panels() -> None:
    board = dashboard()
    assert board["uid"] == "ens-image-operator" and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert 'namespace=~"$namespace"' in target["expr"] and 'job=~"$job"' in target["expr"]


# --- every metric used is one a running operator exports -------------------------------------


@pytest.fixture(scope="module")
def scraped_series(
    toolsets: dict[str, Toolset], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[set[str]]:
    """Series names on /metrics of a real operator after one import reached Ready and one stalled."""
    workdir = tmp_path_factory.mktemp("metrics-stack")
    kubectl = toolsets["helm4"].kubectl_path
    with LocalStack(workdir, step_seconds=0.5, fast_poll_interval=0.5) as stack:
        stack.start_operator()

        def run(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run(
                [str(kubectl), "--kubeconfig", str(stack.kubeconfig), "--namespace", "default", *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        suffix = uuid.uuid4().hex[:6]
        ready, broken = f"metrics-{suffix}", f"broken-{suffix}"
        stack.admin("POST", "missing", {"objects": [{"bucket": "images", "object": f"{broken}.qcow2"}]})
        for name, obj in ((ready, "web.qcow2"), (broken, f"{broken}.qcow2")):
            source = {"oss": {"bucket": "images", "object": obj, "region": "cn-beijing"}}
            image = {"apiVersion": "ens.image-operator.io/v1alpha1", "kind": "EnsImage"}
            run(
                "apply",
                "-f",
                "-",
                stdin=json.dumps({**image, "metadata": {"name": name}, "spec": {"source": source}}),
            )
        deadline = time.monotonic() + 60
        # Polled, as the e2e suite does: `kubectl wait` never returned against the local Kubernetes API.
        while {"Ready", "Stalled"} - {
            condition["type"]
            for item in json.loads(run("get", "ensimages", "-o", "json"))["items"]
            for condition in (item.get("status") or {}).get("conditions", [])
            if condition["status"] == "True"
            and (item["metadata"]["name"], condition["type"]) in {(ready, "Ready"), (broken, "Stalled")}
        }:
            assert time.monotonic() < deadline, "the import did not reach Ready or the broken one Stalled"
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while True:
            text = httpx.get(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=5).text
            if 'ens_operator_resources{kind="EnsImage",ready="True"} 1.0' in text:
                break
            assert time.monotonic() < deadline, "the resource gauge never counted the Ready EnsImage"
            time.sleep(0.5)
        yield {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_metric_of_the_rules_and_dashboard_is_exported(
    toolsets: dict[str, Toolset], scraped_series: set[str]
) -> None:
    exprs = [alert["expr"] for alert in alert_rules(toolsets["helm4"])] + dashboard_exprs()
    used = set().union(*(metric_names(expr) for expr in exprs))
    used |= set(re.findall(r"label_values\((\w+)", " ".join(exprs)))
    # Every ens_operator_* token must have been seen as a selected series name above.
    assert set(re.findall(r"\bens_operator_\w+", " ".join(exprs))) <= used
    assert {"ens_operator_ens_calls_total", "ens_operator_ens_call_duration_seconds_bucket"} <= used
    missing = sorted(used - PROMETHEUS_OWN - scraped_series)
    assert not missing, f"used by the chart but not on the operator's /metrics: {missing}"
