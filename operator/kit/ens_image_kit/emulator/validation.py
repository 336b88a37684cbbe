"""Parameter checks of the image operations, with the codes the emulator answers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ens_image_kit.emulator.errors import (
    ApiError,
    invalid_field,
    invalid_parameter,
    missing_parameter,
)
from ens_image_kit.emulator.images import DiskSource

# Starts with a letter or a CJK ideograph; then letters, digits, CJK, ':', '_' or '-'.
_IMAGE_NAME = re.compile(r"[A-Za-z\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff:_-]{1,127}")
_OSS_PREFIX = re.compile(r"[A-Za-z0-9]{1,30}")
MAX_DISKS = 4
MAX_PAGE_SIZE = 50
MAX_SHARE_PAGE_SIZE = 100
_ACCOUNT_ID = re.compile(r"[0-9]{1,20}")

IMPORT_CHOICES: dict[str, tuple[str, ...]] = {
    "Architecture": ("x86_64",),
    "ImageFormat": ("qcow2",),
    "ComputeType": ("ens_vm",),
    "OSType": ("linux", "windows"),
    "LicenseType": ("Aliyun", "BYOL"),
    "TargetOSSRegionId": ("cn-beijing", "ap-southeast-1"),
}
IMPORT_REQUIRED = ("Architecture", "ComputeType", "ImageFormat", "ImageName", "OSType")


def required(params: Mapping[str, str], name: str) -> str:
    """The parameter's value, or MissingParameter when absent or empty."""
    value = params.get(name, "")
    if not value:
        raise missing_parameter(name)
    return value


def check_image_name(name: str) -> str:
    """ImageName rules: 2-128 characters, no URL, see ``_IMAGE_NAME``."""
    if name.startswith(("http://", "https://")):
        raise invalid_parameter("ImageName", "it must not start with http:// or https://.")
    if not _IMAGE_NAME.fullmatch(name):
        raise invalid_parameter(
            "ImageName",
            "2-128 characters, starting with a letter; letters, digits, ':', '_' and '-' only.",
        )
    return name


def check_import(params: Mapping[str, str]) -> list[DiskSource]:
    """Validate an ImportImage request; returns the disks to read, system disk first."""
    for name in IMPORT_REQUIRED:
        required(params, name)
    check_image_name(params["ImageName"])
    for name, allowed in IMPORT_CHOICES.items():
        value = params.get(name)
        if value is not None and value not in allowed:
            raise invalid_parameter(name, f"expected one of {', '.join(allowed)}.")
    disks = _disk_device_mapping(params)
    if params.get("OSSObject"):
        bucket = required(params, "OSSBucket")
        disks.insert(0, DiskSource(bucket, params["OSSObject"], params.get("OSSRegion", "")))
    if not disks:
        raise missing_parameter("DiskDeviceMapping")
    return disks


def _disk_device_mapping(params: Mapping[str, str]) -> list[DiskSource]:
    raw = params.get("DiskDeviceMapping")
    if raw is None:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        raise invalid_parameter("DiskDeviceMapping", "it must be a JSON array.") from None
    if not isinstance(items, list) or not items or len(items) > MAX_DISKS:
        raise invalid_parameter("DiskDeviceMapping", f"a JSON array of 1 to {MAX_DISKS} disks.")
    disks: list[DiskSource] = []
    for item in items:
        if not isinstance(item, dict):
            raise invalid_parameter("DiskDeviceMapping", "each disk must be a JSON object.")
        bucket, obj, region = (item.get(key, "") for key in ("OSSBucket", "OSSObject", "OSSRegion"))
        if not (isinstance(bucket, str) and bucket and isinstance(obj, str) and obj):
            raise invalid_parameter("DiskDeviceMapping", "each disk needs OSSBucket and OSSObject.")
        disks.append(DiskSource(bucket, obj, region if isinstance(region, str) else ""))
    return disks


def check_oss_prefix(prefix: str) -> str:
    """OSSPrefix: 1-30 letters and digits (OssPrefix.Malformed otherwise)."""
    if not _OSS_PREFIX.fullmatch(prefix):
        raise ApiError("OssPrefix.Malformed", "OSSPrefix must be 1 to 30 letters or digits.")
    return prefix


def page(params: Mapping[str, str], max_size: int = MAX_PAGE_SIZE) -> tuple[int, int]:
    """PageNumber (default 1) and PageSize (default 10, at most ``max_size``)."""
    number = _positive_int(params, "PageNumber", 1)
    size = _positive_int(params, "PageSize", 10)
    if size > max_size:
        raise invalid_parameter("PageSize", f"at most {max_size}.")
    return number, size


def account_ids(params: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated list of account ids (digits only), without repeats; [] when not sent."""
    raw = params.get(name, "")
    if not raw:
        return []
    accounts: list[str] = []
    for item in raw.split(","):
        account = item.strip()
        if not _ACCOUNT_ID.fullmatch(account):
            raise invalid_field(name, f"{account!r} is not an Alibaba Cloud account id (digits only).")
        if account not in accounts:
            accounts.append(account)
    return accounts


def optional_account_id(params: Mapping[str, str], name: str) -> str | None:
    """One account id (an integer on the wire, e.g. DescribeImageSharePermission's AliyunId)."""
    raw = params.get(name, "")
    if not raw:
        return None
    if not _ACCOUNT_ID.fullmatch(raw):
        raise invalid_field(name, f"{raw!r} is not an Alibaba Cloud account id (digits only).")
    return raw


def _positive_int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_parameter(name, "it must be a positive integer.") from None
    if value < 1:
        raise invalid_parameter(name, "it must be a positive integer.")
    return value
