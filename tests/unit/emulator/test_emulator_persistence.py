"""With a state file, images, settings and missing objects survive a restart of the emulator."""

from __future__ import annotations

from pathlib import Path

from ens_image_kit.emulator import run_emulator
from ens_image_kit.emulator.images import DiskSource


async def test_images_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "ens.db"
    async with run_emulator(state_file=state_file, step_seconds=3600.0) as first:
        image = first.state.create_image("golden", [DiskSource("b", "d.qcow2")])
        first.state.images[image.image_id].force_status("Available", first.state.now())
        first.state.save(first.state.images[image.image_id])
    async with run_emulator(state_file=state_file) as second:
        [restored] = second.state.live_images()
    assert (restored.image_id, restored.image_name, restored.status(restored.created_at)) == (
        image.image_id,
        "golden",
        "Available",
    )


async def test_an_import_keeps_progressing_across_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "ens.db"
    async with run_emulator(state_file=state_file, step_seconds=10.0) as first:
        image = first.state.create_image("golden", [DiskSource("b", "d.qcow2")])
    async with run_emulator(state_file=state_file, step_seconds=10.0) as second:
        restored = second.state.images[image.image_id]
    assert restored.status(image.created_at + 25) == "Uploading"


async def test_deleted_images_stay_deleted(tmp_path: Path) -> None:
    state_file = tmp_path / "ens.db"
    async with run_emulator(state_file=state_file) as first:
        first.state.delete_image(first.state.create_image("golden", [DiskSource("b", "d")]))
    async with run_emulator(state_file=state_file) as second:
        assert second.state.live_images() == []


async def test_settings_and_missing_objects_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "ens.db"
    async with run_emulator(state_file=state_file, step_seconds=2.0) as first:
        first.state.set_step_seconds(0.5)
        first.state.declare_missing(["gone"], [("b", "d.qcow2")])
    async with run_emulator(state_file=state_file, step_seconds=2.0) as second:
        state = second.state
        assert (state.step_seconds, state.missing_buckets, state.missing_objects) == (
            0.5,
            {"gone"},
            {("b", "d.qcow2")},
        )


async def test_issued_sts_keys_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "ens.db"
    async with run_emulator(state_file=state_file) as first:
        key_id, cred = first.state.issue_sts(900)
    async with run_emulator(state_file=state_file) as second:
        assert second.state.sts[key_id] == cred


async def test_without_a_state_file_a_restart_starts_empty() -> None:
    async with run_emulator() as first:
        first.state.create_image("golden", [DiskSource("b", "d")])
    async with run_emulator() as second:
        assert second.state.images == {}
