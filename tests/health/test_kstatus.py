"""kstatus, as Flux, kpt and Config Sync compute it, gives each state the status docs/install.md says.

Each state is reached the way the operator reaches it: the example manifest, then the status the
operator's own ``status_patch`` (``conditions.build`` and ``observedGeneration``) writes after each
pass. The Go test in ``tests/health/kstatus`` computes ``status.Compute`` on the result; the expected
status of each state is read from the table in docs/install.md, so the table and the test agree.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.gotest import REPO, go_test

from ens_image_operator.reconcile.conditions import State, Verdict
from ens_image_operator.reconcile.driver import Outcome
from ens_image_operator.reconcile.loop import PAUSED_ANNOTATION, paused_outcome, status_patch
from ens_image_operator.reconcile.ports import ObjectView

MODULE = Path(__file__).resolve().parent / "kstatus"
DOCS = REPO / "docs" / "install.md"
TABLE_HEADER = "| state | what the object carries | kstatus |"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Per kind: the example manifest, and the verdicts of a pass that works, succeeds, fails for good.
KINDS: dict[str, tuple[str, Verdict, Verdict, Verdict]] = {
    "EnsImage": (
        "ensimage-import.yaml",
        Verdict(State.PROGRESSING, "Importing", "image m-5c2a0d3e9f (ubuntu-2204-edge) is being imported"),
        Verdict(State.READY, "Available", "image m-5c2a0d3e9f is Available"),
        Verdict(State.STALLED, "ImportFailed", "image m-5c2a0d3e9f is Pack_failed"),
    ),
    "EnsImageExport": (
        "ensimageexport.yaml",
        Verdict(State.PROGRESSING, "Exporting", "image m-5c2a0d3e9f is being exported"),
        Verdict(State.READY, "Exported", "image m-5c2a0d3e9f is exported"),
        Verdict(State.STALLED, "ExportFailed", "exporting image m-5c2a0d3e9f failed (ExportError)"),
    ),
    "EnsImageCatalog": (
        "ensimagecatalog.yaml",
        Verdict(State.PROGRESSING, "Retrying", "DescribeImageInfos failed, retrying: 503"),
        Verdict(State.READY, "Loaded", "42 public images listed"),
        Verdict(State.STALLED, "InvalidSpec", "spec.refreshInterval: not a duration"),
    ),
}
DELETION_STALLED = Verdict(State.STALLED, "CredentialsError", "Secret default/ens-credentials not found")
DELETING = Verdict(State.PROGRESSING, "Deleting", "deleting image m-5c2a0d3e9f")


def created(kind: str) -> dict[str, Any]:
    """The example manifest of ``kind`` as the API server stores it on create."""
    obj: dict[str, Any] = yaml.safe_load((REPO / "examples" / KINDS[kind][0]).read_text())
    obj["metadata"].update(
        namespace="default", uid=f"uid-{kind}", generation=1, creationTimestamp="2026-01-01T00:00:00Z"
    )
    return obj


def passed(obj: dict[str, Any], outcome: Outcome | Verdict) -> dict[str, Any]:
    """``obj`` after one operator pass ending in ``outcome``: its status patch merged in."""
    if isinstance(outcome, Verdict):
        outcome = Outcome(outcome)
    after = copy.deepcopy(obj)
    after["status"] = {**after.get("status", {}), **status_patch(ObjectView.from_body(obj), outcome, NOW)}
    return after


def paused(obj: dict[str, Any]) -> dict[str, Any]:
    after = copy.deepcopy(obj)
    after["metadata"].setdefault("annotations", {})[PAUSED_ANNOTATION] = "true"
    return after


def edited(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` after a spec change: the API server bumps metadata.generation."""
    after = copy.deepcopy(obj)
    after["metadata"]["generation"] += 1
    return after


def deleted(obj: dict[str, Any]) -> dict[str, Any]:
    after = copy.deepcopy(obj)
    after["metadata"].update(
        deletionTimestamp="2026-01-01T01:00:00Z", finalizers=["ens.image-operator.io/finalizer"]
    )
    return after


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


# state (the first column of the docs' table) -> (object for a kind, kstatus's message for it).
Reached = Callable[[str], tuple[dict[str, Any], str]]


def _working(kind: str) -> tuple[dict[str, Any], str]:
    obj = passed(created(kind), KINDS[kind][1])
    return obj, condition(obj, "Reconciling")["message"]


def _ready(kind: str) -> tuple[dict[str, Any], str]:
    return passed(passed(created(kind), KINDS[kind][1]), KINDS[kind][2]), "Resource is Ready"


def _stalled(kind: str) -> tuple[dict[str, Any], str]:
    obj = passed(passed(created(kind), KINDS[kind][1]), KINDS[kind][3])
    return obj, condition(obj, "Stalled")["message"]


def _paused_once_ready(kind: str) -> tuple[dict[str, Any], str]:
    return passed(paused(_ready(kind)[0]), paused_outcome()), "Resource is Ready"


def _paused_before_ready(kind: str) -> tuple[dict[str, Any], str]:
    obj = passed(paused(_working(kind)[0]), paused_outcome())
    return obj, condition(obj, "Ready")["message"]


def _paused_from_creation(kind: str) -> tuple[dict[str, Any], str]:
    obj = passed(paused(created(kind)), paused_outcome())
    return obj, condition(obj, "Ready")["message"]


def _edited_while_paused(kind: str) -> tuple[dict[str, Any], str]:
    obj = passed(edited(_paused_once_ready(kind)[0]), paused_outcome())
    return obj, f"{kind} generation is 2, but latest observed generation is 1"


def _not_observed(kind: str) -> tuple[dict[str, Any], str]:
    return edited(_ready(kind)[0]), f"{kind} generation is 2, but latest observed generation is 1"


def _deleting(kind: str) -> tuple[dict[str, Any], str]:
    return passed(deleted(_ready(kind)[0]), DELETING), "Resource scheduled for deletion"


def _deletion_stalled(kind: str) -> tuple[dict[str, Any], str]:
    return passed(_deleting(kind)[0], DELETION_STALLED), "Resource scheduled for deletion"


STATES: dict[str, Reached] = {
    "just created, no status yet": lambda kind: (created(kind), "Resource is current"),
    "working: importing, exporting, retrying": _working,
    "Ready": _ready,
    "Stalled": _stalled,
    "paused once Ready": _paused_once_ready,
    "paused before Ready (e.g. mid-import)": _paused_before_ready,
    "paused from creation": _paused_from_creation,
    "spec changed while paused, once Ready": _edited_while_paused,
    "new spec not yet observed": _not_observed,
    "deleting": _deleting,
    "deleting, the deletion stalled": _deletion_stalled,
}


def documented_statuses() -> dict[str, str]:
    """state -> kstatus, from the table in docs/install.md."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index(TABLE_HEADER) + 2  # past the header and the --- row
    table: dict[str, str] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = re.sub(r"[`*]", "", cells[-1])
    return table


def test_the_docs_table_has_a_row_for_every_state_and_no_other() -> None:
    assert sorted(documented_statuses()) == sorted(STATES)


@pytest.mark.timeout(600)
def test_kstatus_gives_every_state_the_documented_status(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    expected = documented_statuses()
    cases = []
    for state, build in STATES.items():
        for kind in KINDS:
            obj, message = build(kind)
            cases.append(
                {"name": f"{kind}: {state}", "object": obj, "status": expected[state], "message": message}
            )
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases, indent=2), encoding="utf-8")
    go_test(MODULE, pytestconfig, {"ENS_KSTATUS_CASES": str(path)})
