"""The CEL admission rules accept good objects and refuse bad ones with a message naming the field."""

from __future__ import annotations

from typing import Any

from cel_rules import violations

from ens_image_operator.api.kinds import ENS_IMAGE, ENS_IMAGE_EXPORT

IMPORT = {
    "source": {"oss": {"bucket": "images", "object": "web.qcow2", "region": "cn-beijing"}},
    "osType": "linux",
    "architecture": "x86_64",
    "imageFormat": "qcow2",
    "computeType": "ens_vm",
}
EXPORT = {"imageId": "m-1", "ossBucket": "exports", "ossRegionId": "cn-beijing", "ossPrefix": "web"}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def test_import_spec_is_accepted() -> None:
    assert violations(ENS_IMAGE, IMPORT) == []


def test_adopt_spec_is_accepted() -> None:
    assert violations(ENS_IMAGE, {"imageId": "m-123"}) == []


def test_both_source_and_image_id_are_refused() -> None:
    assert violations(ENS_IMAGE, _with(IMPORT, imageId="m-1")) == [
        "exactly one of spec.source (import) or spec.imageId (adopt) must be set"
    ]


def test_neither_source_nor_image_id_is_refused() -> None:
    assert len(violations(ENS_IMAGE, {"osType": "linux"})) == 1


def test_changing_the_source_is_refused_with_a_hint_to_create_a_new_object() -> None:
    changed = _with(
        IMPORT, source={"oss": {"bucket": "images", "object": "v2.qcow2", "region": "cn-beijing"}}
    )
    [message] = violations(ENS_IMAGE, changed, IMPORT)
    assert message.startswith("spec.source is immutable") and "create a new EnsImage" in message


def test_setting_an_image_name_after_creation_is_refused() -> None:
    [message] = violations(ENS_IMAGE, _with(IMPORT, imageName="other"), IMPORT)
    assert message.startswith("spec.imageName is immutable")


def test_adding_a_data_disk_after_creation_is_refused() -> None:
    disks = [{"bucket": "images", "object": "d1.qcow2", "region": "cn-beijing"}]
    [message] = violations(ENS_IMAGE, _with(IMPORT, dataDisks=disks), IMPORT)
    assert message.startswith("spec.dataDisks is immutable")


def test_deletion_policy_and_credentials_may_change() -> None:
    changed = _with(IMPORT, deletionPolicy="Retain", credentialsRef={"name": "other"})
    assert violations(ENS_IMAGE, changed, IMPORT) == []


def test_unchanged_import_spec_passes_the_transition_rules() -> None:
    assert violations(ENS_IMAGE, dict(IMPORT), IMPORT) == []


def test_export_by_id_is_accepted() -> None:
    assert violations(ENS_IMAGE_EXPORT, EXPORT) == []


def test_export_with_both_reference_and_id_is_refused() -> None:
    assert violations(ENS_IMAGE_EXPORT, _with(EXPORT, imageRef={"name": "web"})) == [
        "exactly one of spec.imageRef or spec.imageId must be set"
    ]


def test_any_change_to_an_export_spec_is_refused() -> None:
    [message] = violations(ENS_IMAGE_EXPORT, _with(EXPORT, ossBucket="elsewhere"), EXPORT)
    assert message.startswith("spec is immutable")
