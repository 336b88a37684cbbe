"""Admission from the CRD: structural schema, pruning, defaulting and CEL rules, worded as upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fidelity_kit import Gadgets
from kubernetes.client.exceptions import ApiException


def _rejection(gadgets: Gadgets, name: str, /, **spec: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as raised:
        gadgets.make(name, **spec)
    assert raised.value.status == 422
    status: dict[str, Any] = json.loads(raised.value.body)
    return status


def _cause(status: dict[str, Any], field: str) -> dict[str, Any]:
    for cause in status["details"]["causes"]:
        if cause["field"] == field:
            return dict(cause)
    raise AssertionError(f"no cause for {field}: {status['details']['causes']}")


def test_a_rejection_is_a_status_invalid_naming_the_object(gadgets: Gadgets) -> None:
    status = _rejection(gadgets, "bad", color="purple")
    assert status["kind"] == "Status"
    assert status["status"] == "Failure"
    assert status["reason"] == "Invalid"
    assert status["details"]["name"] == "bad"
    assert status["details"]["group"] == "sandbox-test.image-operator.io"
    assert status["details"]["kind"] == "Gadget"
    # with CEL rules in the CRD, an enum violation also reports that the rules were skipped: a list
    assert status["message"].startswith('Gadget.sandbox-test.image-operator.io "bad" is invalid: [spec.color')


def test_a_missing_required_field_is_field_value_required(gadgets: Gadgets) -> None:
    body = gadgets.body("bad")
    del body["spec"]["name"]
    with pytest.raises(ApiException) as raised:
        gadgets.create(body)
    assert _cause(json.loads(raised.value.body), "spec.name")["reason"] == "FieldValueRequired"


def test_a_value_outside_the_enum_is_field_value_not_supported(gadgets: Gadgets) -> None:
    cause = _cause(_rejection(gadgets, "bad", color="purple"), "spec.color")
    assert cause["reason"] == "FieldValueNotSupported"
    assert '"purple"' in cause["message"]
    assert '"red"' in cause["message"]


def test_a_string_breaking_the_pattern_is_invalid(gadgets: Gadgets) -> None:
    cause = _cause(_rejection(gadgets, "bad", name="9lives"), "spec.name")
    assert cause["reason"] == "FieldValueInvalid"
    assert "should match" in cause["message"]


def test_a_too_long_string_is_field_value_too_long(gadgets: Gadgets) -> None:
    assert _cause(_rejection(gadgets, "bad", name="a" * 17), "spec.name")["reason"] == "FieldValueTooLong"


def test_a_too_short_string_is_invalid(gadgets: Gadgets) -> None:
    assert "at least 2 chars" in _cause(_rejection(gadgets, "bad", name="a"), "spec.name")["message"]


def test_too_many_items_is_field_value_too_many(gadgets: Gadgets) -> None:
    tags = ["a", "b", "c", "d", "e"]
    assert _cause(_rejection(gadgets, "bad", size=9, tags=tags), "spec.tags")["reason"] == "FieldValueTooMany"


@pytest.mark.parametrize(
    ("size", "words"), [(0, "greater than or equal to 1"), (11, "less than or equal to 10")]
)
def test_numbers_outside_minimum_and_maximum_are_invalid(gadgets: Gadgets, size: int, words: str) -> None:
    assert words in _cause(_rejection(gadgets, "bad", size=size), "spec.size")["message"]


def test_a_value_of_the_wrong_type_is_rejected(gadgets: Gadgets) -> None:
    assert "must be of type integer" in _cause(_rejection(gadgets, "bad", size="big"), "spec.size")["message"]


def test_after_a_type_error_cel_rules_are_not_run_and_the_answer_says_so(gadgets: Gadgets) -> None:
    status = _rejection(gadgets, "bad", size="big", source={"url": "u"}, ref="r")
    assert "some validation rules were not checked" in _cause(status, "<nil>")["message"]
    assert "at most one of spec.source and spec.ref" not in status["message"]


def test_a_huge_integer_where_a_string_belongs_is_invalid_not_a_server_error(gadgets: Gadgets) -> None:
    assert "must be of type string" in _cause(_rejection(gadgets, "bad", ref=2**63), "spec.ref")["message"]


@pytest.mark.parametrize("port", [8080, "http"])
def test_int_or_string_accepts_both(gadgets: Gadgets, port: Any) -> None:
    assert gadgets.make("g1", port=port)["spec"]["port"] == port


def test_unknown_fields_are_pruned(gadgets: Gadgets) -> None:
    created = gadgets.make("g1", bogus=True, source={"url": "u", "nonsense": 1})
    assert "bogus" not in created["spec"]
    assert "nonsense" not in created["spec"]["source"]


def test_unknown_fields_are_refused_under_strict_field_validation(gadgets: Gadgets) -> None:
    with pytest.raises(ApiException) as raised:
        gadgets.create(gadgets.body("g1", bogus=True), field_validation="Strict")
    assert raised.value.status == 400
    assert 'unknown field "spec.bogus"' in json.loads(raised.value.body)["message"]


def test_preserve_unknown_fields_keeps_them(gadgets: Gadgets) -> None:
    assert gadgets.make("g1", extra={"any": {"thing": [1, 2]}})["spec"]["extra"] == {"any": {"thing": [1, 2]}}


def test_defaults_are_applied_including_nested_ones(gadgets: Gadgets) -> None:
    spec = gadgets.make("g1", source={"url": "u"})["spec"]
    assert spec["size"] == 3
    assert spec["color"] == "green"
    assert spec["options"] == {"mode": "fast"}
    assert spec["source"]["retries"] == 2


def test_nested_defaults_do_not_create_absent_parents(gadgets: Gadgets) -> None:
    assert "source" not in gadgets.make("g1")["spec"]


def test_a_cel_rule_rejects_with_its_message(gadgets: Gadgets) -> None:
    cause = _cause(_rejection(gadgets, "bad", source={"url": "u"}, ref="r"), "spec")
    assert cause["reason"] == "FieldValueInvalid"
    assert "at most one of spec.source and spec.ref may be set" in cause["message"]


def test_a_cel_message_expression_and_reason_are_used(gadgets: Gadgets) -> None:
    cause = _cause(_rejection(gadgets, "bad", size=1, tags=["a", "b"]), "spec")
    assert cause["reason"] == "FieldValueForbidden"
    assert "too many tags for gadget of this size" in cause["message"]


def test_cel_rules_on_array_items_check_each_item(gadgets: Gadgets) -> None:
    cause = _cause(_rejection(gadgets, "bad", tags=["ok", "NotOk"]), "spec.tags[1]")
    assert "tags are lowercase words" in cause["message"]


def test_a_transition_rule_is_not_evaluated_on_create(gadgets: Gadgets) -> None:
    assert gadgets.make("g1", name="anything")["spec"]["name"] == "anything"


def test_a_transition_rule_rejects_an_update_breaking_it(gadgets: Gadgets) -> None:
    gadgets.make("g1", name="first")
    with pytest.raises(ApiException) as raised:
        gadgets.patch("g1", {"spec": {"name": "second"}})
    assert raised.value.status == 422
    cause = _cause(json.loads(raised.value.body), "spec.name")
    assert "spec.name is immutable" in cause["message"]


def test_an_update_keeping_a_transition_rule_passes(gadgets: Gadgets) -> None:
    gadgets.make("g1", name="first")
    assert gadgets.patch("g1", {"spec": {"size": 5}})["spec"]["size"] == 5


def test_all_errors_are_reported_together(gadgets: Gadgets) -> None:
    status = _rejection(gadgets, "bad", color="purple", size=0)
    fields = {cause["field"] for cause in status["details"]["causes"]}
    assert {"spec.color", "spec.size"} <= fields


def test_a_set_list_refuses_duplicates(gadgets: Gadgets) -> None:
    cause = _cause(_rejection(gadgets, "bad", size=5, tags=["a", "b", "a"]), "spec.tags[2]")
    assert cause["reason"] == "FieldValueDuplicate"


def test_a_map_list_refuses_two_items_with_the_same_key(gadgets: Gadgets) -> None:
    gadgets.make("g1")
    ready = {"type": "Ready", "status": "True"}
    with pytest.raises(ApiException) as raised:
        gadgets.patch_status("g1", {"status": {"conditions": [ready, {**ready, "status": "False"}]}})
    assert raised.value.status == 422
    assert _cause(json.loads(raised.value.body), "status.conditions[1]")["reason"] == "FieldValueDuplicate"
