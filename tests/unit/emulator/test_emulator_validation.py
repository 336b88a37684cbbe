"""ImportImage, ExportImage and paging parameters are checked as the service documents them."""

from __future__ import annotations

import json

import pytest

from ens_image_kit.emulator.errors import ApiError
from ens_image_kit.emulator.validation import check_image_name, check_import, check_oss_prefix, page

DISK = {"OSSBucket": "b", "OSSObject": "d.qcow2", "OSSRegion": "cn-beijing"}


def _import(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "ImageName": "golden",
        "Architecture": "x86_64",
        "ComputeType": "ens_vm",
        "ImageFormat": "qcow2",
        "OSType": "linux",
        "DiskDeviceMapping": json.dumps([DISK]),
    } | overrides
    return {key: value for key, value in params.items() if value is not None}


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value.code


@pytest.mark.parametrize("name", ["ab", "Ubuntu-22:golden_v2", "镜像-一", "a" * 128])
def test_acceptable_image_names(name: str) -> None:
    assert check_image_name(name) == name


@pytest.mark.parametrize(
    "name", ["a", "a" * 129, "9lives", "_under", "dot.name", "sp ace", "https://x", "http://x"]
)
def test_unacceptable_image_names(name: str) -> None:
    assert _code(lambda: check_image_name(name)) == "InvalidParameter.ImageName"


@pytest.mark.parametrize("field", ["ImageName", "Architecture", "ComputeType", "ImageFormat", "OSType"])
def test_each_required_import_parameter_is_missing_parameter(field: str) -> None:
    assert _code(lambda: check_import(_import(**{field: None}))) == "MissingParameter"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Architecture", "arm64"),
        ("ImageFormat", "raw"),
        ("ComputeType", "ens"),
        ("OSType", "Linux"),
        ("LicenseType", "Free"),
        ("TargetOSSRegionId", "cn-hangzhou"),
    ],
)
def test_values_outside_the_allowed_set_are_invalid(field: str, value: str) -> None:
    assert _code(lambda: check_import(_import(**{field: value}))) == f"InvalidParameter.{field}"


def test_an_import_without_any_disk_is_missing_parameter() -> None:
    assert _code(lambda: check_import(_import(DiskDeviceMapping=None))) == "MissingParameter"


def test_the_top_level_oss_object_becomes_the_system_disk() -> None:
    params = _import(OSSBucket="top", OSSObject="sys.qcow2", OSSRegion="cn-beijing")
    disks = check_import(params)
    assert [(d.bucket, d.object) for d in disks] == [("top", "sys.qcow2"), ("b", "d.qcow2")]


@pytest.mark.parametrize(
    "mapping",
    ["not json", "{}", "[]", json.dumps([DISK] * 5), json.dumps([{"OSSBucket": "b"}]), json.dumps(["x"])],
)
def test_malformed_disk_device_mappings_are_invalid(mapping: str) -> None:
    code = _code(lambda: check_import(_import(DiskDeviceMapping=mapping)))
    assert code == "InvalidParameter.DiskDeviceMapping"


def test_four_disks_are_accepted() -> None:
    assert len(check_import(_import(DiskDeviceMapping=json.dumps([DISK] * 4)))) == 4


@pytest.mark.parametrize("prefix", ["", "a" * 31, "with-dash", "with/slash"])
def test_malformed_oss_prefixes(prefix: str) -> None:
    assert _code(lambda: check_oss_prefix(prefix)) == "OssPrefix.Malformed"


def test_paging_defaults_to_the_first_ten() -> None:
    assert page({}) == (1, 10)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"PageSize": "51"}, "InvalidParameter.PageSize"),
        ({"PageSize": "0"}, "InvalidParameter.PageSize"),
        ({"PageNumber": "x"}, "InvalidParameter.PageNumber"),
    ],
)
def test_bad_paging(params: dict[str, str], code: str) -> None:
    assert _code(lambda: page(params)) == code
