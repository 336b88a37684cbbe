"""kopf's last-handled essence in memory: no write per change handled, and every change still seen."""

from __future__ import annotations

import copy
from typing import Any

import kopf
from kopf._cogs.structs import diffs

from ens_image_operator import GROUP
from ens_image_operator.controllers.handlers import configure_kopf
from ens_image_operator.controllers.kopf_storage import MemoryDiffBaseStorage

SPEC = {"imageId": "m-1", "osType": "linux"}


def _body(*, generation: int = 1, observed: int | None = None, **metadata: Any) -> kopf.Body:
    status = {"observedGeneration": observed} if observed is not None else {}
    meta = {"uid": "u-1", "name": "web", "namespace": "ns", "generation": generation, **metadata}
    return kopf.Body({"metadata": meta, "spec": dict(SPEC), "status": status})


def _changed(storage: MemoryDiffBaseStorage, body: kopf.Body) -> str:
    """What kopf would make of ``body``: creation, update or nothing to do (as _detect_causes)."""
    old = storage.fetch(body=body)
    if old is None:
        return "create"
    return "update" if diffs.diff(old, storage.build(body=body)) else "noop"


def _handled(storage: MemoryDiffBaseStorage, body: kopf.Body) -> kopf.Patch:
    """kopf's bookkeeping after its handlers succeeded: store the essence in a patch."""
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    return patch


def test_kopf_is_configured_to_keep_its_essences_in_memory() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert isinstance(settings.persistence.diffbase_storage, MemoryDiffBaseStorage)


def test_a_handled_creation_is_not_written_to_the_object() -> None:
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    body = _body()
    assert _changed(storage, body) == "create"
    assert not _handled(storage, body)  # nothing for kopf to PATCH
    assert _changed(storage, _body(observed=1)) == "noop"  # the status writes that follow


def test_spec_label_and_annotation_changes_are_updates() -> None:
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    _handled(storage, _body())
    changed_spec = _body(generation=2, observed=1)
    changed_spec["spec"]["imageId"] = "m-2"
    assert _changed(storage, changed_spec) == "update"
    assert _changed(storage, _body(observed=1, labels={"team": "a"})) == "update"
    assert _changed(storage, _body(observed=1, annotations={"note": "kick"})) == "update"  # README


def test_annotations_under_our_prefix_are_not_changes() -> None:
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    _handled(storage, _body())
    ours = {f"{GROUP}/paused": "true", f"{GROUP}/delete": "{}", f"{GROUP}/last-handled-configuration": "{}"}
    assert _changed(storage, _body(observed=1, annotations=ours)) == "noop"


def test_an_object_first_seen_counts_as_handled_when_its_status_observed_its_generation() -> None:
    # After a start-up: objects a pass acted on at their generation start no handler ...
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    assert _changed(storage, _body(generation=3, observed=3)) == "noop"
    # ... and what changes after that is seen as usual.
    assert _changed(storage, _body(generation=3, observed=3, labels={"team": "a"})) == "update"


def test_an_object_first_seen_with_a_generation_not_observed_yet_is_handled() -> None:
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    assert _changed(storage, _body(generation=2, observed=1)) == "create"  # spec changed while down
    assert _changed(storage, _body()) == "create"  # never reconciled


def test_the_essence_kept_is_what_was_handled_not_a_later_change() -> None:
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    handled = _body()
    _handled(storage, handled)
    later = copy.deepcopy(dict(handled))
    later["spec"]["osType"] = "windows"
    assert storage.fetch(body=kopf.Body(later)) == {"spec": SPEC}


def test_deleted_objects_are_forgotten() -> None:
    storage = MemoryDiffBaseStorage(prefix=GROUP)
    _handled(storage, _body())
    storage.fetch(body=_body(deletionTimestamp="2026-01-01T00:00:00Z"))
    assert len(storage) == 0
    _handled(storage, _body())
    storage.forget("u-1")
    assert len(storage) == 0


def test_a_handler_that_succeeded_at_once_leaves_kopf_nothing_to_patch() -> None:
    # kopf stores the handler's progress and purges it in the same cycle; kopf's own storage left
    # its marker annotation in the patch: one PATCH per object for nothing.
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    storage = settings.persistence.progress_storage
    body, patch = _body(), kopf.Patch()
    record = {"started": "2026-01-01T00:00:00+00:00", "success": True, "retries": 1}
    storage.store(key=kopf.HandlerId("reconcile"), record=record, body=body, patch=patch)
    storage.purge(key=kopf.HandlerId("reconcile"), body=body, patch=patch)
    assert not patch
    plain = kopf.AnnotationsProgressStorage(prefix=GROUP)
    patch = kopf.Patch()
    plain.store(key=kopf.HandlerId("reconcile"), record=record, body=body, patch=patch)
    plain.purge(key=kopf.HandlerId("reconcile"), body=body, patch=patch)
    assert patch == {"metadata": {"annotations": {f"{GROUP}/kopf-managed": "yes"}}}  # what it saves


def test_progress_of_a_retried_handler_is_still_stored_under_our_prefix() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    patch = kopf.Patch()
    record = {"started": "2026-01-01T00:00:00+00:00", "retries": 1, "delayed": "2026-01-01T00:00:01+00:00"}
    settings.persistence.progress_storage.store(
        key=kopf.HandlerId("delete"), record=record, body=_body(), patch=patch
    )
    assert list(patch["metadata"]["annotations"]) == [f"{GROUP}/delete"]


def test_the_essence_is_kopfs_own_for_a_body_as_a_real_api_server_sends_it() -> None:
    body = kopf.Body(
        {
            "apiVersion": "ens.image-operator.io/v1alpha1",
            "kind": "EnsImage",
            "metadata": {
                "name": "web",
                "namespace": "team",
                "uid": "u-1",
                "generation": 2,
                "resourceVersion": "812",
                "labels": {"tier": "edge"},
                "annotations": {
                    "note": "kept",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    f"{GROUP}/last-handled-configuration": "{}",
                },
                "finalizers": [f"{GROUP}/finalizer"],
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:imageId": {}}}}],
            },
            "spec": {"imageId": "m-1", "deletionPolicy": "Retain"},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    ours = MemoryDiffBaseStorage(GROUP).build(body=body)
    assert ours == {"spec": {"imageId": "m-1", "deletionPolicy": "Retain"},
                    "metadata": {"labels": {"tier": "edge"}, "annotations": {"note": "kept"}}}  # fmt: skip
    # Fields asked for by name still come from the whole body, as kopf's own build does.
    extra = MemoryDiffBaseStorage(GROUP).build(body=body, extra_fields=["status.observedGeneration"])
    assert extra["status"] == {"observedGeneration": 2}
