"""An image's status follows the clock: one step per step-seconds, failures and forced statuses."""

from __future__ import annotations

import pytest

from ens_image_kit.emulator.images import DiskSource, Image

STEP = 10.0


def _image(**fields: object) -> Image:
    values: dict[str, object] = {
        "image_id": "m-test",
        "image_name": "golden",
        "created_at": 1000.0,
        "seq": 1,
        "step_seconds": STEP,
        "phase_since": 1000.0,
        "disks": [DiskSource("bucket", "disk.qcow2")],
    } | fields
    return Image(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("elapsed", "status"),
    [
        (0, "Creating"),
        (9.9, "Creating"),
        (10, "Packing"),
        (20, "Uploading"),
        (30, "Available"),
        (999, "Available"),
    ],
)
def test_status_advances_one_step_per_step_seconds(elapsed: float, status: str) -> None:
    assert _image().status(1000.0 + elapsed) == status


def test_a_zero_step_makes_images_available_at_once() -> None:
    assert _image(step_seconds=0.0).status(1000.0) == "Available"


def test_a_missing_object_fails_packing() -> None:
    image = _image()
    image.fail_later("Pack_failed", 1000.0)
    assert [image.status(1000.0 + n * STEP) for n in range(4)] == [
        "Creating",
        "Pack_failed",
        "Pack_failed",
        "Pack_failed",
    ]


def test_a_missing_bucket_fails_the_upload() -> None:
    image = _image()
    image.fail_later("Upload_failed", 1000.0)
    assert [image.status(1000.0 + n * STEP) for n in range(4)] == [
        "Creating",
        "Packing",
        "Upload_failed",
        "Upload_failed",
    ]


def test_a_failure_declared_late_fails_at_the_next_step() -> None:
    image = _image()
    image.fail_later("Pack_failed", 1000.0 + 2 * STEP)  # already Uploading
    assert image.status(1000.0 + 2.5 * STEP) == "Uploading"
    assert image.status(1000.0 + 3 * STEP) == "Pack_failed"


def test_an_available_image_cannot_fail_any_more() -> None:
    image = _image()
    image.fail_later("Pack_failed", 1000.0 + 5 * STEP)
    assert image.status(1000.0 + 9 * STEP) == "Available"


def test_forcing_a_progress_status_restarts_the_clock_from_there() -> None:
    image = _image()
    image.force_status("Packing", 5000.0)
    assert (image.status(5000.0), image.status(5000.0 + STEP), image.status(5000.0 + 2 * STEP)) == (
        "Packing",
        "Uploading",
        "Available",
    )


def test_forcing_another_status_sticks() -> None:
    image = _image()
    image.force_status("Unavailable", 1000.0)
    assert image.status(1_000_000.0) == "Unavailable"


def test_an_export_completes_after_one_step() -> None:
    image = _image()
    image.start_export("out", "cn-beijing", "", "", 2000.0, STEP)
    assert (image.export_state(2000.0 + STEP - 0.1), image.export_state(2000.0 + STEP)) == (
        "Exporting",
        "Exported",
    )


def test_an_export_whose_bucket_vanishes_ends_in_export_error() -> None:
    image = _image()
    image.start_export("out", "cn-beijing", "", "", 2000.0, STEP)
    image.export_failed = True
    assert image.export_state(2000.0 + STEP) == "ExportError"


def test_the_export_url_is_bucket_region_prefix_and_id() -> None:
    image = _image()
    image.start_export("out", "ap-southeast-1", "v2", "", 2000.0, STEP)
    assert image.export_url() == "https://out.oss-ap-southeast-1.aliyuncs.com/v2m-test.qcow2"


def test_an_image_survives_a_round_trip_through_its_dict() -> None:
    image = _image(export_status="Exporting", deleted_at=3.0)
    assert Image.from_dict(image.to_dict()) == image
