"""EnsImageExport: export an ENS image to OSS and publish its download URL."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from ens_image_operator.api.common import CONDITIONS_FIELD, ApiModel, Condition, LocalObjectReference


class EnsImageExportSpec(ApiModel):
    """Desired export of one image to an OSS bucket; immutable once created."""

    model_config = ConfigDict(
        **ApiModel.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.imageRef) != has(self.imageId)",
                    "message": "exactly one of spec.imageRef or spec.imageId must be set",
                },
                {
                    "rule": "self == oldSelf",
                    "message": "spec is immutable: create a new EnsImageExport to export again",
                    "reason": "FieldValueForbidden",
                },
            ]
        },
    )

    image_ref: LocalObjectReference | None = Field(
        None, description="EnsImage in this namespace whose image to export; waits until it is Ready."
    )
    image_id: str | None = Field(
        None,
        description="Id of the ENS image to export. Exclusive with imageRef.",
        min_length=1,
        max_length=64,
    )
    oss_bucket: str = Field(
        description="OSS bucket the image is exported to.", alias="ossBucket", min_length=3, max_length=63
    )
    oss_region_id: str = Field(
        description="Region of the OSS bucket, e.g. cn-beijing.",
        alias="ossRegionId",
        min_length=1,
        max_length=64,
    )
    oss_prefix: str | None = Field(
        None,
        description="Prefix of the exported object's name: 1-30 letters and digits.",
        alias="ossPrefix",
        pattern="^[a-zA-Z0-9]{1,30}$",
        min_length=1,
        max_length=30,
    )
    role_name: str | None = Field(
        None, description="RAM role ENS assumes to write to the bucket.", max_length=64
    )
    credentials_ref: LocalObjectReference | None = Field(
        None,
        description="Secret in this namespace with keys accessKeyId, accessKeySecret and optionally "
        "securityToken. Unset: the namespace's default Secret if present, else the operator's own.",
    )


class EnsImageExportStatus(ApiModel):
    """Observed state of an export."""

    image_id: str | None = Field(None, description="Id of the exported ENS image.")
    export_status: str | None = Field(
        None, description="Export status as ENS reports it: Exporting, Exported, ExportError or Unexported."
    )
    exported_image_url: str | None = Field(
        None, alias="exportedImageURL", description="URL of the exported image in OSS."
    )
    started_at: str | None = Field(
        None,
        description="When the operator decided to call ExportImage (RFC 3339), recorded before the call.",
    )
    completed_at: str | None = Field(None, description="When the export reached Exported (RFC 3339).")
    observed_generation: int | None = Field(
        None, description="The metadata.generation the status was computed from."
    )
    conditions: list[Condition] | None = CONDITIONS_FIELD
