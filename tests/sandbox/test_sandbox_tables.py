"""The pieces of server-side tables: kubectl-style ages and the printer-column JSONPath subset."""

from __future__ import annotations

import pytest

from ens_image_kit.sandbox.tables import human_duration, json_path


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (119, "119s"), (200, "3m20s"), (600, "10m"), (3 * 3600, "3h"), (5 * 3600 + 60, "5h1m"),
     (30 * 3600, "30h"), (50 * 3600, "2d2h"), (40 * 86400, "40d"), (800 * 86400, "2y70d")],
)  # fmt: skip
def test_ages_are_printed_as_kubectl_prints_them(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_a_filter_expression_picks_the_matching_list_item() -> None:
    obj = {
        "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}
    }
    assert json_path(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]


def test_a_missing_field_yields_nothing() -> None:
    assert json_path({"spec": {}}, ".status.imageId") == []


def test_indexes_and_wildcards_walk_lists() -> None:
    obj = {"spec": {"tags": ["a", "b", "c"]}}
    assert json_path(obj, ".spec.tags[1]") == ["b"]
    assert json_path(obj, ".spec.tags[*]") == ["a", "b", "c"]
