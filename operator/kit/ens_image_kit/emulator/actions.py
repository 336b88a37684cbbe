"""The ENS operations the emulator answers, each returning its response body."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ens_image_kit.emulator.catalogue import is_public_image, public_images
from ens_image_kit.emulator.errors import ApiError, invalid_field, invalid_request, no_permission
from ens_image_kit.emulator.images import Image
from ens_image_kit.emulator.state import EmulatorState
from ens_image_kit.emulator.validation import (
    MAX_SHARE_PAGE_SIZE,
    account_ids,
    check_image_name,
    check_import,
    check_oss_prefix,
    optional_account_id,
    page,
    required,
)

Params = Mapping[str, str]
# (state, parameters, the caller's account id) -> response body without RequestId.
Handler = Callable[[EmulatorState, Params, str], dict[str, Any]]

ENS_VERSION = "2017-11-10"
SYSTEM_DISK_GB = 20
DATA_DISK_GB = 40


def iso_time(epoch: float) -> str:
    """Alibaba's UTC timestamp format."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _filtered(state: EmulatorState, params: Params, account: str) -> list[Image]:
    """Images listed to ``account`` matching ImageId (exact) and ImageName (case-sensitive substring)."""
    images = state.listed_images(account)
    if image_id := params.get("ImageId"):
        images = [image for image in images if image.image_id == image_id]
    if name := params.get("ImageName"):
        images = [image for image in images if name in image.image_name]
    return images


def _paged(images: list[Image], params: Params) -> tuple[int, int, list[Image]]:
    number, size = page(params)
    start = (number - 1) * size
    return number, size, images[start : start + size]


def _owner_alias(image: Image, account: str) -> str:
    """ImageOwnerAlias as DescribeSelfImages documents it: "self" (yours) or "others" (shared with you)."""
    return "self" if image.owner == account else "others"


def _disk_mappings(image: Image) -> dict[str, Any]:
    mappings = [
        {
            "Format": image.image_format,
            "Size": str(SYSTEM_DISK_GB if index == 0 else DATA_DISK_GB),
            "Type": "System" if index == 0 else "Data",
            "imageId": image.image_id,
        }
        for index in range(len(image.disks))
    ]
    return {"DiskDeviceMapping": mappings}


def _image_size(image: Image) -> str:
    return str(SYSTEM_DISK_GB + DATA_DISK_GB * (len(image.disks) - 1))


def import_image(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """ImportImage: validate, then create an image in Creating (names may repeat)."""
    disks = check_import(params)
    image = state.create_image(
        params["ImageName"],
        disks,
        owner=account,
        architecture=params["Architecture"],
        compute_type=params["ComputeType"],
        image_format=params["ImageFormat"],
        os_type=params["OSType"],
        os_version=params.get("OSVersion", ""),
        platform=params.get("Platform", ""),
        license_type=params.get("LicenseType", ""),
        target_region=params.get("TargetOSSRegionId", ""),
    )
    return {"ImageId": image.image_id}


def describe_self_images(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """DescribeSelfImages: own images and those shared with the caller; counters are strings."""
    images = _filtered(state, params, account)
    number, size, shown = _paged(images, params)
    now = state.now()
    return {
        "Code": 0,
        "PageNumber": str(number),
        "PageSize": str(size),
        "TotalCount": str(len(images)),
        "Images": {
            "Image": [
                {
                    "Architecture": image.architecture,
                    "ComputeType": image.compute_type,
                    "CreationTime": iso_time(image.created_at),
                    "ImageId": image.image_id,
                    "ImageName": image.image_name,
                    "ImageOwnerAlias": _owner_alias(image, account),
                    "ImageSize": _image_size(image),
                    "ImageStorageSize": _image_size(image),
                    "InstanceId": "",
                    "OsVersion": image.os_version,
                    "Platform": image.platform,
                    "RegionId": image.target_region,
                    "SnapshotId": "",
                    "Status": image.status(now),
                    "DiskDeviceMappings": _disk_mappings(image),
                }
                for image in shown
            ]
        },
    }


def delete_image(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """DeleteImage: own images only; refused while exporting; a shared image is unshared implicitly."""
    image = state.get_owned(required(params, "ImageId"), account)
    if image.export_state(state.now()) == "Exporting":
        raise ApiError("IncorrectImageStatus", "The image is being exported and cannot be deleted.")
    state.delete_image(image)
    return {"Code": 0}


def modify_image_attribute(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """ModifyImageAttribute: rename one of the caller's own images."""
    image = state.get_owned(required(params, "ImageId"), account)
    image.image_name = check_image_name(required(params, "ImageName"))
    state.save(image)
    return {"Code": 0}


def export_image(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """ExportImage: an Available image goes to Exporting; the URL is known at once."""
    image_id = required(params, "ImageId")
    bucket = required(params, "OSSBucket")
    region = required(params, "OSSRegionId")
    prefix = params.get("OSSPrefix", "")
    if prefix:
        check_oss_prefix(prefix)
    image = state.get_owned(image_id, account)
    now = state.now()
    if image.export_state(now) == "Exporting":
        raise ApiError("OperationDenied.ImageExporting", "The image is already being exported.")
    if image.status(now) != "Available":
        raise ApiError("IncorrectImageStatus", "Only an Available image can be exported.")
    if bucket in state.missing_buckets:
        raise ApiError("OssBucket.NotFound", f"The specified OSS bucket {bucket} does not exist.", 404)
    image.start_export(bucket, region, prefix, params.get("RoleName", ""), now, state.step_seconds)
    state.save(image)
    return {"ExportedImageURL": image.export_url()}


def describe_export_image_status(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """DescribeExportImageStatus: one image's export progress (readable by those it is shared with)."""
    image = state.get_visible(required(params, "ImageId"), account)
    return {"ImageExportStatus": image.export_state(state.now())}


def describe_export_image_info(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """DescribeExportImageInfo: the caller's own images; integer counters and no Code, as in the SDK."""
    images = [image for image in _filtered(state, params, account) if image.owner == account]
    number, size, shown = _paged(images, params)
    now = state.now()
    entries = []
    for image in shown:
        export_status = image.export_state(now)
        entries.append(
            {
                "Architecture": image.architecture,
                "CreationTime": iso_time(image.created_at),
                "ExportedImageURL": image.export_url() if export_status == "Exported" else "",
                "ImageExportStatus": export_status,
                "ImageId": image.image_id,
                "ImageName": image.image_name,
                "ImageOwnerAlias": "self",
                "Platform": image.platform,
            }
        )
    return {
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": len(images),
        "Images": {"Image": entries},
    }


def describe_image_infos(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """DescribeImageInfos: the fixed public catalogue, optionally filtered by OsType."""
    return {"Code": 0, "Images": {"Image": public_images(params.get("OsType"))}}


def _shared_image(state: EmulatorState, params: Params, account: str) -> Image:
    """The caller's own image named by ImageId, checked as the image-sharing pages document."""
    image_id = required(params, "ImageId")
    if is_public_image(image_id):
        raise ApiError("InvalidImageType.NotSupported", "The specified image type is not supported.")
    image = state.find_visible(image_id, account)
    if image is None:
        raise invalid_field("ImageId", f"The image {image_id} does not exist.")
    if image.owner != account:
        raise no_permission()
    return image


def modify_image_share_permission(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """ModifyImageSharePermission: share an Available image with AddAccounts, unshare RemoveAccounts."""
    image = _shared_image(state, params, account)
    add = account_ids(params, "AddAccounts")
    remove = account_ids(params, "RemoveAccounts")
    if not add and not remove:
        raise ApiError(
            "MissingParameter",
            "The input parameter that is mandatory for processing this request is not supplied: "
            "AddAccounts or RemoveAccounts.",
        )
    if account in add:
        raise invalid_field("AddAccounts", "An image cannot be shared with the account that owns it.")
    if len(remove) > 1:
        raise invalid_field("RemoveAccounts", "Only one account can be removed per call.")
    if remove and remove[0] not in image.shared_with:
        raise invalid_field("RemoveAccounts", f"The image is not shared with account {remove[0]}.")
    status = image.status(state.now())
    if add and status != "Available":
        raise invalid_request(f"the image {image.image_id} is {status}: only an Available image is shared")
    state.change_sharing(image, add, remove)
    return {}


def describe_image_share_permission(state: EmulatorState, params: Params, account: str) -> dict[str, Any]:
    """DescribeImageSharePermission: the accounts an own image is shared with, paged, optionally one."""
    image = _shared_image(state, params, account)
    number, size = page(params, MAX_SHARE_PAGE_SIZE)
    wanted = optional_account_id(params, "AliyunId")
    shared = [uid for uid in image.shared_with if wanted is None or uid == wanted]
    start = (number - 1) * size
    return {
        "ImageId": image.image_id,
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": len(shared),
        "Accounts": {"Account": [{"AliyunUid": uid} for uid in shared[start : start + size]]},
    }


ACTIONS: dict[str, Handler] = {
    "ImportImage": import_image,
    "DescribeSelfImages": describe_self_images,
    "DeleteImage": delete_image,
    "ModifyImageAttribute": modify_image_attribute,
    "ExportImage": export_image,
    "DescribeExportImageStatus": describe_export_image_status,
    "DescribeExportImageInfo": describe_export_image_info,
    "DescribeImageInfos": describe_image_infos,
    "ModifyImageSharePermission": modify_image_share_permission,
    "DescribeImageSharePermission": describe_image_share_permission,
}
