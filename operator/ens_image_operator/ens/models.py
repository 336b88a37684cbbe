"""Request and response models of the ENS image operations, with the SDK's wire names as aliases.

Responses are parsed leniently: unknown fields are ignored, numbers that arrive as strings become
ints (an empty string becomes None), and the ``Images: {Image: [...]}`` wrapping is unwrapped.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _unwrap(key: str) -> Any:
    def unwrap(value: Any) -> Any:
        if value is None or value == "":
            return []
        if isinstance(value, dict):
            inner = value.get(key, [])
            return [] if inner is None else inner
        return value

    return unwrap


WireInt = Annotated[int | None, BeforeValidator(_blank_to_none)]


class WireModel(BaseModel):
    """Base of every wire model: aliases on the wire, Python names in code."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class DiskDeviceMapping(WireModel):
    """One disk of an imported image, read from OSS."""

    oss_bucket: str | None = Field(None, alias="OSSBucket")
    oss_object: str | None = Field(None, alias="OSSObject")
    oss_region: str | None = Field(None, alias="OSSRegion")


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ImportImageRequest(WireModel):
    """ImportImage parameters."""

    image_name: str = Field(alias="ImageName")
    os_type: str = Field(alias="OSType")
    architecture: str = Field("x86_64", alias="Architecture")
    image_format: str = Field("qcow2", alias="ImageFormat")
    compute_type: str = Field("ens_vm", alias="ComputeType")
    oss_bucket: str | None = Field(None, alias="OSSBucket")
    oss_object: str | None = Field(None, alias="OSSObject")
    oss_region: str | None = Field(None, alias="OSSRegion")
    platform: str | None = Field(None, alias="Platform")
    os_version: str | None = Field(None, alias="OSVersion")
    license_type: str | None = Field(None, alias="LicenseType")
    target_oss_region_id: str | None = Field(None, alias="TargetOSSRegionId")
    disk_device_mapping: list[DiskDeviceMapping] = Field(default_factory=list, alias="DiskDeviceMapping")

    def to_query(self) -> dict[str, str]:
        """Wire parameters; DiskDeviceMapping travels as one compact JSON array, as the SDK sends it."""
        query: dict[str, str] = {}
        for name, value in self.model_dump(by_alias=True, exclude_none=True).items():
            if name == "DiskDeviceMapping":
                if value:
                    query[name] = _compact_json(value)
            else:
                query[name] = str(value)
        return query


class DiskInfo(WireModel):
    """A disk of an existing image."""

    format: str | None = Field(None, alias="Format")
    size: WireInt = Field(None, alias="Size")
    type: str | None = Field(None, alias="Type")
    image_id: str | None = Field(None, alias="imageId")


_Disks = Annotated[list[DiskInfo], BeforeValidator(_unwrap("DiskDeviceMapping"))]


class SelfImage(WireModel):
    """One custom image, as DescribeSelfImages reports it."""

    image_id: str = Field(alias="ImageId")
    image_name: str | None = Field(None, alias="ImageName")
    status: str | None = Field(None, alias="Status")
    image_size: WireInt = Field(None, alias="ImageSize")
    image_storage_size: WireInt = Field(None, alias="ImageStorageSize")
    architecture: str | None = Field(None, alias="Architecture")
    compute_type: str | None = Field(None, alias="ComputeType")
    platform: str | None = Field(None, alias="Platform")
    os_version: str | None = Field(None, alias="OsVersion")
    creation_time: str | None = Field(None, alias="CreationTime")
    region_id: str | None = Field(None, alias="RegionId")
    image_owner_alias: str | None = Field(None, alias="ImageOwnerAlias")
    instance_id: str | None = Field(None, alias="InstanceId")
    snapshot_id: str | None = Field(None, alias="SnapshotId")
    disks: _Disks = Field(default_factory=list, alias="DiskDeviceMappings")


class ExportImageInfo(WireModel):
    """One image's export state, as DescribeExportImageInfo reports it."""

    image_id: str = Field(alias="ImageId")
    image_name: str | None = Field(None, alias="ImageName")
    image_export_status: str | None = Field(None, alias="ImageExportStatus")
    exported_image_url: str | None = Field(None, alias="ExportedImageURL")
    architecture: str | None = Field(None, alias="Architecture")
    platform: str | None = Field(None, alias="Platform")
    creation_time: str | None = Field(None, alias="CreationTime")
    image_owner_alias: str | None = Field(None, alias="ImageOwnerAlias")


class ImageInfo(WireModel):
    """One public image, as DescribeImageInfos reports it."""

    image_id: str = Field(alias="ImageId")
    os_name: str | None = Field(None, alias="OSName")
    os_type: str | None = Field(None, alias="OSType")
    image_version: str | None = Field(None, alias="ImageVersion")
    image_size: WireInt = Field(None, alias="ImageSize")
    compute_type: str | None = Field(None, alias="ComputeType")
    region_id: str | None = Field(None, alias="RegionId")
    description: str | None = Field(None, alias="Description")
    image_owner_alias: str | None = Field(None, alias="ImageOwnerAlias")
    disks: _Disks = Field(default_factory=list, alias="DiskDeviceMappings")


class Page(WireModel):
    """Paging fields shared by the Describe* answers."""

    request_id: str | None = Field(None, alias="RequestId")
    page_number: WireInt = Field(None, alias="PageNumber")
    page_size: WireInt = Field(None, alias="PageSize")
    total_count: WireInt = Field(None, alias="TotalCount")


class SelfImagesPage(Page):
    """One page of DescribeSelfImages."""

    images: Annotated[list[SelfImage], BeforeValidator(_unwrap("Image"))] = Field(
        default_factory=list, alias="Images"
    )


class ExportImageInfoPage(Page):
    """One page of DescribeExportImageInfo."""

    images: Annotated[list[ExportImageInfo], BeforeValidator(_unwrap("Image"))] = Field(
        default_factory=list, alias="Images"
    )


class ShareAccount(WireModel):
    """An account an image is shared with, as DescribeImageSharePermission reports it."""

    aliyun_uid: str = Field(alias="AliyunUid")

    @field_validator("aliyun_uid", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> str:
        return str(value)


class SharePermissionPage(Page):
    """One page of DescribeImageSharePermission."""

    accounts: Annotated[list[ShareAccount], BeforeValidator(_unwrap("Account"))] = Field(
        default_factory=list, alias="Accounts"
    )


class ImageInfosResponse(WireModel):
    """The answer of DescribeImageInfos (not paged)."""

    request_id: str | None = Field(None, alias="RequestId")
    images: Annotated[list[ImageInfo], BeforeValidator(_unwrap("Image"))] = Field(
        default_factory=list, alias="Images"
    )
