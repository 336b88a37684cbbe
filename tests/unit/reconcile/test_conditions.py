"""kstatus conditions: three per object, transition times kept while a status holds."""

from __future__ import annotations

from datetime import timedelta

from reconcile_fakes import NOW

from ens_image_operator.reconcile.conditions import State, Verdict, build, is_ready, parse_time, stalled_at

LATER = NOW + timedelta(minutes=5)


def _by_type(conditions: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {condition["type"]: condition for condition in conditions}


def test_ready_verdict_sets_ready_true_and_the_others_false() -> None:
    conds = _by_type(build(Verdict(State.READY, "Available"), None, generation=3, now=NOW))
    assert (conds["Ready"]["status"], conds["Reconciling"]["status"], conds["Stalled"]["status"]) == (
        "True",
        "False",
        "False",
    )


def test_progressing_verdict_sets_reconciling_true() -> None:
    conds = _by_type(build(Verdict(State.PROGRESSING, "Importing"), None, generation=1, now=NOW))
    assert conds["Reconciling"]["status"] == "True" and conds["Ready"]["status"] == "False"


def test_stalled_verdict_sets_stalled_true_with_reason_and_message() -> None:
    conds = _by_type(
        build(Verdict(State.STALLED, "ImportFailed", "image m-1 is Pack_failed"), None, generation=1, now=NOW)
    )
    assert conds["Stalled"]["status"] == "True"
    assert (conds["Stalled"]["reason"], conds["Stalled"]["message"]) == (
        "ImportFailed",
        "image m-1 is Pack_failed",
    )


def test_every_condition_carries_the_observed_generation() -> None:
    conds = build(Verdict(State.READY, "Available"), None, generation=7, now=NOW)
    assert {condition["observedGeneration"] for condition in conds} == {7}


def test_transition_time_is_kept_while_the_status_is_unchanged() -> None:
    first = build(Verdict(State.PROGRESSING, "Importing"), None, generation=1, now=NOW)
    second = _by_type(build(Verdict(State.PROGRESSING, "Retrying"), first, generation=1, now=LATER))
    assert second["Reconciling"]["lastTransitionTime"] == "2026-01-01T12:00:00Z"


def test_transition_time_moves_when_the_status_changes() -> None:
    first = build(Verdict(State.PROGRESSING, "Importing"), None, generation=1, now=NOW)
    second = _by_type(build(Verdict(State.READY, "Available"), first, generation=1, now=LATER))
    assert second["Ready"]["lastTransitionTime"] == "2026-01-01T12:05:00Z"


def test_paused_keeps_the_last_known_ready_status() -> None:
    ready = build(Verdict(State.READY, "Available"), None, generation=1, now=NOW)
    paused = _by_type(build(Verdict(State.PAUSED, "Paused"), ready, generation=1, now=LATER))
    assert paused["Ready"]["status"] == "True"
    assert (paused["Reconciling"]["status"], paused["Reconciling"]["reason"]) == ("False", "Paused")


def test_a_stall_counts_only_for_the_generation_it_was_seen_on() -> None:
    stalled = build(Verdict(State.STALLED, "InvalidParameter"), None, generation=2, now=NOW)
    assert stalled_at(stalled, 2) == "InvalidParameter"
    assert stalled_at(stalled, 3) is None


def test_is_ready_reads_the_ready_condition() -> None:
    assert is_ready(build(Verdict(State.READY, "Available"), None, generation=1, now=NOW))
    assert not is_ready(build(Verdict(State.PROGRESSING, "Importing"), None, generation=1, now=NOW))


def test_ens_and_kubernetes_timestamps_parse_as_utc() -> None:
    assert parse_time("2026-01-01T12:00:00Z") == NOW
    assert parse_time("2026-01-01 12:00:00") == NOW
    assert parse_time("yesterday") is None
