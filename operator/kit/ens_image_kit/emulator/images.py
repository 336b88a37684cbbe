"""One emulated custom image and the clock-driven life it leads.

Statuses are computed from timestamps when asked, so nothing runs in the background and an
image keeps progressing across a restart of the emulator.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

PROGRESSION = ("Creating", "Packing", "Uploading", "Available")
IN_PROGRESS = frozenset(PROGRESSION[:-1])
PACK_FAILED = "Pack_failed"
UPLOAD_FAILED = "Upload_failed"
# Where in PROGRESSION each failure replaces the normal next status.
FAILURE_INDEX = {PACK_FAILED: 1, UPLOAD_FAILED: 2}

EXPORT_STATUSES = ("Unexported", "Exporting", "Exported", "ExportError")


@dataclass
class DiskSource:
    """Where one disk of an imported image is read from."""

    bucket: str
    object: str
    region: str = ""


@dataclass
class Image:
    """A custom image: what was imported, where it stands, and its export."""

    image_id: str
    image_name: str
    created_at: float
    seq: int
    step_seconds: float
    architecture: str = "x86_64"
    compute_type: str = "ens_vm"
    image_format: str = "qcow2"
    os_type: str = "linux"
    os_version: str = ""
    platform: str = ""
    license_type: str = ""
    target_region: str = ""
    disks: list[DiskSource] = field(default_factory=list)
    # The status progression counts steps from ``phase`` starting at ``phase_since``.
    phase: int = 0
    phase_since: float = 0.0
    fail_status: str | None = None
    fail_index: int = 0
    forced_status: str | None = None
    status_changed_at: float | None = None
    export_status: str = "Unexported"
    export_since: float | None = None
    export_step: float = 0.0
    export_failed: bool = False
    export_bucket: str = ""
    export_region: str = ""
    export_prefix: str = ""
    export_role: str = ""
    deleted_at: float | None = None
    # The account that imported the image ("" in state files older than accounts: the default one).
    owner: str = ""
    # Accounts the owner shares the image with, in the order they were added.
    shared_with: list[str] = field(default_factory=list)

    def phase_index(self, now: float) -> int:
        """Index into PROGRESSION the clock has reached (may run past the end)."""
        if self.step_seconds <= 0:
            return len(PROGRESSION) - 1
        steps = math.floor(max(0.0, now - self.phase_since) / self.step_seconds)
        return self.phase + steps

    def status(self, now: float) -> str:
        """The Status DescribeSelfImages reports at ``now``."""
        if self.forced_status is not None:
            return self.forced_status
        index = self.phase_index(now)
        if self.fail_status is not None and index >= self.fail_index:
            return self.fail_status
        return PROGRESSION[min(index, len(PROGRESSION) - 1)]

    def force_status(self, status: str, now: float) -> None:
        """Put the image in ``status``; progression statuses keep advancing from there."""
        self.fail_status = None
        self.status_changed_at = now
        if status in PROGRESSION:
            self.forced_status = None
            self.phase = PROGRESSION.index(status)
            self.phase_since = now
        else:
            self.forced_status = status

    def fail_later(self, failure: str, now: float) -> None:
        """Make a still-progressing image end in ``failure`` instead of Available."""
        if self.status(now) not in IN_PROGRESS or self.fail_status is not None:
            return
        self.fail_status = failure
        self.fail_index = max(FAILURE_INDEX[failure], self.phase_index(now) + 1)

    def export_state(self, now: float) -> str:
        """The ImageExportStatus at ``now``: Exporting turns into Exported after one step."""
        if self.export_status != "Exporting" or self.export_since is None:
            return self.export_status
        if now - self.export_since < self.export_step:
            return "Exporting"
        return "ExportError" if self.export_failed else "Exported"

    def start_export(self, bucket: str, region: str, prefix: str, role: str, now: float, step: float) -> None:
        """Begin exporting to ``bucket``; it completes ``step`` seconds later (computed lazily)."""
        self.export_status = "Exporting"
        self.export_since = now
        self.export_step = step
        self.export_failed = False
        self.export_bucket, self.export_region = bucket, region
        self.export_prefix, self.export_role = prefix, role

    def force_export_status(self, status: str, now: float, step: float) -> None:
        """Put the export in ``status``; Exporting completes ``step`` seconds later."""
        self.export_status = status
        self.export_since = now if status == "Exporting" else None
        self.export_step = step
        self.export_failed = False
        self.status_changed_at = now

    def visible_to(self, account: str) -> bool:
        """Whether ``account`` sees the image: it owns it or it is shared with it."""
        return account == self.owner or account in self.shared_with

    def export_url(self) -> str:
        """Where the exported qcow2 lands in OSS."""
        if not self.export_bucket:
            return ""
        host = f"{self.export_bucket}.oss-{self.export_region}.aliyuncs.com"
        return f"https://{host}/{self.export_prefix}{self.image_id}.qcow2"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, for persistence."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Image:
        """The inverse of ``to_dict``."""
        values = dict(data)
        values["disks"] = [DiskSource(**disk) for disk in values.get("disks", [])]
        return cls(**values)
