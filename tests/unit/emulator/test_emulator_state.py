"""The emulated account: missing OSS objects, deletion, reset, replayed nonces and STS keys."""

from __future__ import annotations

from ens_image_kit.emulator.images import DiskSource
from ens_image_kit.emulator.state import EmulatorState, StsCredential


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _state(clock: FakeClock) -> EmulatorState:
    return EmulatorState(keys={"id": "secret"}, step_seconds=10.0, clock=clock)


def test_an_import_from_a_bucket_declared_missing_ends_in_upload_failed() -> None:
    clock = FakeClock()
    state = _state(clock)
    state.declare_missing(["gone"], [])
    image = state.create_image("golden", [DiskSource("gone", "disk.qcow2")])
    clock.now += 60
    assert image.status(clock.now) == "Upload_failed"


def test_declaring_an_object_missing_fails_an_import_in_progress() -> None:
    clock = FakeClock()
    state = _state(clock)
    image = state.create_image("golden", [DiskSource("b", "disk.qcow2")])
    state.declare_missing([], [("b", "disk.qcow2")])
    clock.now += 60
    assert image.status(clock.now) == "Pack_failed"


def test_other_objects_in_the_same_bucket_are_unaffected() -> None:
    clock = FakeClock()
    state = _state(clock)
    state.declare_missing([], [("b", "other.qcow2")])
    image = state.create_image("golden", [DiskSource("b", "disk.qcow2")])
    clock.now += 60
    assert image.status(clock.now) == "Available"


def test_a_deleted_image_is_no_longer_live() -> None:
    state = _state(FakeClock())
    image = state.create_image("golden", [DiskSource("b", "d")])
    state.delete_image(image)
    assert state.live_images() == []
    assert state.images[image.image_id].deleted_at is not None


def test_live_images_are_listed_newest_first() -> None:
    state = _state(FakeClock())
    ids = [state.create_image(f"img-{n}", [DiskSource("b", "d")]).image_id for n in range(3)]
    assert [image.image_id for image in state.live_images()] == ids[::-1]


def test_reset_forgets_images_but_keeps_keys() -> None:
    state = _state(FakeClock())
    state.create_image("golden", [DiskSource("b", "d")])
    state.reset()
    assert (state.images, state.keys) == ({}, {"id": "secret"})


def test_a_nonce_is_accepted_once_per_key() -> None:
    state = _state(FakeClock())
    assert state.remember_nonce("id", "n1", 0.0)
    assert not state.remember_nonce("id", "n1", 1.0)
    assert state.remember_nonce("other", "n1", 1.0)


def test_issued_sts_keys_expire_after_the_requested_duration() -> None:
    clock = FakeClock()
    state = _state(clock)
    key_id, cred = state.issue_sts(900)
    assert key_id.startswith("STS.")
    assert cred.expires_at == clock.now + 900


def test_a_configured_sts_duration_overrides_the_request() -> None:
    clock = FakeClock()
    state = _state(clock)
    state.set_sts_duration(5)
    _, cred = state.issue_sts(3600)
    assert cred.expires_at == clock.now + 5


def test_an_sts_credential_never_shows_its_secret_or_token() -> None:
    shown = repr(StsCredential("the-secret", "the-token", 5.0))
    assert "the-secret" not in shown
    assert "the-token" not in shown


def test_a_nonce_is_forgotten_once_no_timestamp_could_still_be_accepted() -> None:
    state = _state(FakeClock())
    state.remember_nonce("id", "n1", 0.0)
    assert state.remember_nonce("id", "n1", 2 * 15 * 60 + 1.0)
