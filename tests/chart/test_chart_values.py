"""values.schema.json and the templates refuse values that would install a broken operator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml
from chart_tools import CHART, REPO, VALUE_SETS, Toolset

BOTH_CREDENTIALS = {
    "credentials": {
        "existingSecret": "mine",
        "create": {"enabled": True, "accessKeyId": "id", "accessKeySecret": "secret"},
    }
}

REFUSED: dict[str, dict[str, Any]] = {
    "wrong-type": {"replicaCount": "two"},
    "unknown-top-level-key": {"replicas": 2},
    "unknown-operator-setting": {"operator": {"pollInterval": 5}},
    "bad-log-level": {"operator": {"logLevel": "verbose"}},
    "negative-timeout": {"operator": {"importTimeout": -1}},
    "two-replicas-without-peering": {"replicaCount": 2},
    "two-credential-modes": BOTH_CREDENTIALS,
    "rrsa-and-existing-secret": {
        "credentials": {
            "existingSecret": "mine",
            "rrsa": {
                "enabled": True,
                "roleArn": "acs:ram::1:role/r",
                "oidcProviderArn": "acs:ram::1:oidc-provider/p",
            },
        }
    },
    "create-without-keys": {"credentials": {"create": {"enabled": True}}},
    "rrsa-without-role": {"credentials": {"rrsa": {"enabled": True}}},
    "namespace-scope-without-namespaces": {"installScope": "namespace"},
    "unknown-install-scope": {"installScope": "everywhere"},
}


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def chart_defaults() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of user values over the chart's defaults."""
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def test_schema_is_a_valid_draft_07_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    assert schema()["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema()["additionalProperties"] is False


def test_chart_defaults_satisfy_the_schema() -> None:
    jsonschema.Draft7Validator(schema()).validate(chart_defaults())


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_tested_value_set_satisfies_the_schema(value_set: str) -> None:
    jsonschema.Draft7Validator(schema()).validate(merged(chart_defaults(), VALUE_SETS[value_set]))


def test_every_default_value_is_documented_by_a_comment() -> None:
    # A leaf key needs a comment right above it, unless a block around it is documented as a whole.
    lines = (CHART / "values.yaml").read_text().splitlines()
    documented_blocks: list[tuple[int, bool]] = []  # (indent, commented) of the enclosing block headers
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "- ")) or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while documented_blocks and documented_blocks[-1][0] >= indent:
            documented_blocks.pop()
        commented = lines[number - 1].strip().startswith("#")
        if stripped.endswith(":"):
            documented_blocks.append((indent, commented))
            continue
        assert commented or any(flag for _, flag in documented_blocks), (
            f"values.yaml line {number + 1} has no comment: {line!r}"
        )


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_schema_refuses_bad_values(case: str) -> None:
    errors = list(jsonschema.Draft7Validator(schema()).iter_errors(merged(chart_defaults(), REFUSED[case])))
    assert errors, case


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_helm_refuses_bad_values(tools: Toolset, case: str) -> None:
    error = tools.template_error(REFUSED[case])
    assert "values don't meet the specifications of the schema" in error, error


def test_helm_names_the_unknown_key(tools: Toolset) -> None:
    assert "replicas" in tools.template_error(REFUSED["unknown-top-level-key"])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("two-credential-modes", "choose at most one credentials mode"),
        ("two-replicas-without-peering", "replicaCount > 1 needs peering.enabled=true"),
        ("namespace-scope-without-namespaces", "installScope=namespace needs watchNamespaces"),
        ("create-without-keys", "credentials.create.enabled needs both"),
    ],
)
def test_templates_explain_what_the_schema_refuses(tools: Toolset, case: str, message: str) -> None:
    # With the schema bypassed, the templates' own checks still stop the render with a clear message.
    assert message in tools.template_error(REFUSED[case], "--skip-schema-validation")


def leaf_values(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted names of the values a user sets one by one (whole blocks like resources count as one)."""
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name not in WHOLE_BLOCKS:
            yield from leaf_values(value, f"{name}.")
        else:
            yield name


WHOLE_BLOCKS = {"resources", "livenessProbe", "readinessProbe", "prometheusRule.alerts"}


def test_install_guide_lists_every_value() -> None:
    guide = (REPO / "docs" / "install.md").read_text()
    missing = [name for name in leaf_values(chart_defaults()) if f"| `{name}` |" not in guide]
    assert not missing, f"docs/install.md's values table lacks {missing}"


def test_schema_describes_exactly_the_values_the_chart_has() -> None:
    def keys(schema_node: dict[str, Any], values: dict[str, Any], prefix: str = "") -> Iterator[str]:
        for name, sub in schema_node.get("properties", {}).items():
            if name != "global" and name not in values:
                yield f"{prefix}{name}"
            if sub.get("type") == "object" and "properties" in sub and isinstance(values.get(name), dict):
                yield from keys(sub, values[name], f"{prefix}{name}.")

    assert list(keys(schema(), chart_defaults())) == []
