"""EnsImage: a custom ENS image imported from OSS, or an existing one adopted by id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from ens_image_operator.api.common import (
    CONDITIONS_FIELD,
    ApiModel,
    Condition,
    DeletionPolicy,
    LocalObjectReference,
)

# ImportImage's name rule: 2-128 characters, first a letter or CJK character, then letters, digits,
# CJK, ':', '_' or '-'. A '/' is not allowed, so names such as http://… are refused as the API does.
# The CJK range is written literally so the same pattern works in Go (RE2) and Python regexes.
IMAGE_NAME_PATTERN = "^[a-zA-Z\u4e00-\u9fa5][a-zA-Z0-9\u4e00-\u9fa5:_-]{1,127}$"

OSType = Literal["linux", "windows"]

# An Alibaba Cloud account id: digits only.
AccountId = Annotated[
    str,
    Field(pattern="^[0-9]{1,32}$", min_length=1, max_length=32, description="An Alibaba Cloud account id."),
]
# ENS documents no limit for one image's share list; this is ECS's (10 accounts per custom image).
MAX_SHARED_ACCOUNTS = 10

_IMMUTABLE = "is immutable once the image is imported: create a new EnsImage instead"


def _immutable_optional(field: str) -> JsonDict:
    """A transition rule keeping an optional spec field as it was (set, unset or value)."""
    return {
        "rule": f"has(self.{field}) == has(oldSelf.{field}) && "
        f"(!has(self.{field}) || self.{field} == oldSelf.{field})",
        "message": f"spec.{field} {_IMMUTABLE}",
        "fieldPath": f".{field}",
        "reason": "FieldValueForbidden",
    }


class OssObject(ApiModel):
    """An object in an Alibaba Cloud OSS bucket."""

    bucket: str = Field(description="OSS bucket name.", min_length=3, max_length=63)
    object: str = Field(
        description="Object key of the qcow2 file in the bucket.", min_length=1, max_length=1024
    )
    region: str = Field(description="Region of the bucket, e.g. cn-beijing.", min_length=1, max_length=64)


class ImageSource(ApiModel):
    """Where the system disk image is imported from."""

    oss: OssObject = Field(description="The qcow2 system disk image in OSS.")


IMMUTABLE_IMPORT_FIELDS = (
    "imageName",
    "source",
    "imageId",
    "dataDisks",
    "osType",
    "platform",
    "osVersion",
    "architecture",
    "imageFormat",
    "computeType",
    "licenseType",
    "targetOSSRegionId",
)


class EnsImageSpec(ApiModel):
    """Desired state of an EnsImage: import from OSS (source) or adopt an existing image (imageId)."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.source) != has(self.imageId)",
                    "message": "exactly one of spec.source (import) or spec.imageId (adopt) must be set",
                },
                *[_immutable_optional(name) for name in IMMUTABLE_IMPORT_FIELDS],
            ]
        },
    )

    image_name: str | None = Field(
        None,
        description="Name of the image in ENS; defaults to metadata.name. 2-128 characters, starting "
        "with a letter or CJK character; letters, digits, CJK, ':', '_' and '-'.",
        min_length=2,
        max_length=128,
        pattern=IMAGE_NAME_PATTERN,
    )
    source: ImageSource | None = Field(
        None, description="Import the image from OSS (ImportImage). Exclusive with imageId."
    )
    image_id: str | None = Field(
        None,
        description="Adopt an existing ENS image by id and only observe it. Exclusive with source.",
        min_length=1,
        max_length=64,
    )
    data_disks: list[OssObject] | None = Field(
        None,
        description="Data disk images in OSS, imported with the system disk (DiskDeviceMapping).",
        max_length=4,
    )
    os_type: OSType = Field("linux", description="Operating system type of the imported image.")
    platform: str | None = Field(
        None, description="OS platform of the imported image, e.g. centos or ubuntu.", max_length=64
    )
    os_version: str | None = Field(None, description="OS version of the imported image.", max_length=64)
    architecture: Literal["x86_64"] = Field("x86_64", description="CPU architecture of the image.")
    image_format: Literal["qcow2"] = Field("qcow2", description="Format of the image file in OSS.")
    compute_type: Literal["ens_vm"] = Field("ens_vm", description="ENS compute type of the image.")
    license_type: Literal["Aliyun", "BYOL"] | None = Field(
        None, description="Licence of the imported image: Aliyun or BYOL (bring your own licence)."
    )
    target_oss_region_id: Literal["cn-beijing", "ap-southeast-1"] | None = Field(
        None,
        alias="targetOSSRegionId",
        description="OSS region the image is stored in after import.",
    )
    deletion_policy: DeletionPolicy | None = Field(
        None,
        description="What deleting this object does to the ENS image: Delete calls DeleteImage, Retain "
        "keeps it. Unset: Delete for imported images, Retain for adopted ones.",
    )
    credentials_ref: LocalObjectReference | None = Field(
        None,
        description="Secret in this namespace with keys accessKeyId, accessKeySecret and optionally "
        "securityToken. Unset: the namespace's default Secret if present, else the operator's own.",
    )
    shared_with: list[AccountId] | None = Field(
        None,
        description="Alibaba Cloud account ids to share the image with (ModifyImageSharePermission): the "
        "operator keeps the share list exactly this set, adding and removing accounts, also undoing "
        "changes made outside. Empty: shared with nobody. Unset: shares are left as they are.",
        max_length=MAX_SHARED_ACCOUNTS,
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class EnsImageStatus(ApiModel):
    """Observed state of an EnsImage."""

    image_id: str | None = Field(None, description="Id of the ENS image.")
    image_name: str | None = Field(None, description="Name of the ENS image the operator manages.")
    image_status: str | None = Field(None, description="The image's status as ENS reports it.")
    image_size: str | None = Field(None, description="Size of the image in GiB, as ENS reports it.")
    architecture: str | None = Field(None, description="CPU architecture reported by ENS.")
    platform: str | None = Field(None, description="OS platform reported by ENS.")
    os_version: str | None = Field(None, description="OS version reported by ENS.")
    creation_time: str | None = Field(None, description="When ENS created the image.")
    import_started_at: str | None = Field(
        None,
        description="When the operator decided to call ImportImage (RFC 3339); recorded before the call "
        "so an import interrupted by a restart is found again instead of repeated.",
    )
    deletion_started_at: str | None = Field(
        None, description="When deletion began (RFC 3339); bounds the wait for running exports."
    )
    owner: Literal["self", "others"] | None = Field(
        None,
        description="Who owns the image in ENS (ImageOwnerAlias): self, or others for an image another "
        "account shares with this one (observed only: never deleted or shared onward).",
    )
    shared_with: list[AccountId] | None = Field(
        None, description="The accounts the image is shared with, while spec.sharedWith manages them."
    )
    observed_generation: int | None = Field(
        None, description="The metadata.generation the status was computed from."
    )
    conditions: list[Condition] | None = CONDITIONS_FIELD
