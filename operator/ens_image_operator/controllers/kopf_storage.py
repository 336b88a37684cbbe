"""What kopf keeps about our objects, kept so that handling a creation or an update writes nothing.

kopf writes to an object for its own bookkeeping besides the finalizer: after every creation and
update it handled, its last-handled essence (an annotation, by default), and the first time it
stores a handler's progress, a marker annotation (``<prefix>/kopf-managed``) even when that progress
is purged in the same patch because the handler succeeded at once. Both were writes of every import.

**The last-handled essence** (``MemoryDiffBaseStorage``). kopf compares an object's essence (spec,
labels, annotations outside storage prefixes) with the essence it last handled to tell a creation
or an update from a mere status change. Here the essence is kept in the process:

- an object handled by this process is compared with what was handled, exactly as kopf would
  compare it with the annotation (labels and annotations included, so ``kubectl annotate`` still
  starts a pass);
- an object first seen (after a start-up, a failover, or a creation) counts as handled when its
  status says so: ``status.observedGeneration`` equals ``metadata.generation``, which every pass
  of a non-paused object writes with its outcome. Otherwise kopf sees a creation and the handler
  runs, as it would for a changed spec.

What this gives up: a change of only labels or annotations made while no operator ran (they do not
move ``metadata.generation``) starts no pass at the next start-up; the periodic passes (re-checks of
credential stalls, the drift check) still come. Spec changes are never missed: they move the
generation. No handler reads kopf's ``old``/``new``/``diff``, and none filters on fields, so the
essence need not carry extra fields.

**The marker** (``UnmarkedProgressStorage``). It tells other kopf-based operators that annotations
under our prefix are an operator's state, not user changes. kopf leaves marking out to storages of
one's own ("all ping-pong issues are considered as intended and handled by the storage/operator
developers"); ours need none: this operator drops every annotation under its prefix from the essence
itself (``MemoryDiffBaseStorage.build``), and progress annotations (retries, deletions) still carry
the prefix. Objects marked before keep their marker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import kopf

ESSENTIAL_METADATA = ("labels", "annotations")  # the metadata kopf's essence keeps


def _observed(body: kopf.Body) -> bool:
    """Whether the status says a pass acted on this very generation."""
    generation = body.get("metadata", {}).get("generation")
    status = body.get("status")
    observed = status.get("observedGeneration") if isinstance(status, dict) else None
    return generation is not None and observed == generation


def _encoded(essence: Any) -> str:
    return json.dumps(essence, sort_keys=True, separators=(",", ":"))


class MemoryDiffBaseStorage(kopf.DiffBaseStorage):
    """The essence kopf last handled, per object uid, in memory; nothing written to the object."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self._handled: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._handled)

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        """kopf's essence, without any annotation under our prefix (kopf's own storage, the pause):
        what kopf's annotation storage leaves out once it has marked the prefix as its own.

        kopf deep-copies the whole body and then drops metadata and status; on a real API server
        metadata carries managedFields, which made that copy the largest cost of a watch event.
        Only what the essence keeps is handed over (fields named in ``extra_fields`` need the rest).
        """
        if not extra_fields:
            metadata = body.get("metadata") or {}
            kept = {key: metadata[key] for key in ESSENTIAL_METADATA if key in metadata}
            slim = {key: value for key, value in body.items() if key not in ("metadata", "status")}
            body = cast(kopf.Body, {**slim, "metadata": kept})
        essence = super().build(body=body, extra_fields=extra_fields)
        annotations = essence.get("metadata", {}).get("annotations") or {}
        ours = [key for key in annotations if key.startswith(f"{self.prefix}/")]
        if ours:
            self.remove_annotations(essence, set(ours))
            self.remove_empty_stanzas(essence)
        return essence

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        uid = str(body.get("metadata", {}).get("uid") or "")
        if not uid:
            return None
        if body.get("metadata", {}).get("deletionTimestamp"):
            self._handled.pop(uid, None)  # kopf handles a deletion whatever the essence
            return None
        handled = self._handled.get(uid)
        if handled is not None:
            decoded: kopf.BodyEssence = json.loads(handled)
            return decoded
        if not _observed(body):
            return None  # never handled at this generation: kopf runs the creation handlers
        essence = self.build(body=body)
        self._handled[uid] = _encoded(essence)
        return essence

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        uid = str(body.get("metadata", {}).get("uid") or "")
        if uid:
            self._handled[uid] = _encoded(essence)

    def forget(self, uid: str) -> None:
        """The object is gone (deleted without a finalizer, a DELETED event carries no deletion mark)."""
        self._handled.pop(uid, None)


class UnmarkedProgressStorage(kopf.AnnotationsProgressStorage):
    """kopf's progress annotations without the ``<prefix>/kopf-managed`` marker (see the module)."""

    def _store_marker(self, prefix: str, patch: kopf.Patch, body: kopf.Body) -> None:
        return None
