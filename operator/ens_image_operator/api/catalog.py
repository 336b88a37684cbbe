"""EnsImageCatalog: the public images ENS offers, refreshed periodically."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ens_image_operator.api.common import CONDITIONS_FIELD, ApiModel, Condition, LocalObjectReference

# A Go duration as Kubernetes writes them (metav1.Duration), e.g. 1h, 30m, 1h30m, 90s.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"


class EnsImageCatalogSpec(ApiModel):
    """Which public images to list and how often."""

    os_type: Literal["linux", "windows"] | None = Field(
        None, description="List only images of this OS type; unset lists all."
    )
    refresh_interval: str = Field(
        "1h",
        description="How often the list is refreshed, as a Go duration (e.g. 1h, 30m).",
        pattern=DURATION_PATTERN,
        max_length=32,
    )
    credentials_ref: LocalObjectReference | None = Field(
        None,
        description="Secret in this namespace with keys accessKeyId, accessKeySecret and optionally "
        "securityToken. Unset: the namespace's default Secret if present, else the operator's own.",
    )


class CatalogImage(ApiModel):
    """One public ENS image."""

    image_id: str = Field(description="Image id.")
    os_name: str | None = Field(None, alias="osName", description="Operating system name.")
    os_type: str | None = Field(None, description="Operating system type.")
    image_version: str | None = Field(None, description="Image version.")
    image_size: str | None = Field(None, description="Image size in GiB.")
    compute_type: str | None = Field(None, description="ENS compute type.")
    region_id: str | None = Field(None, description="Region of the image.")
    description: str | None = Field(None, description="Description given by ENS.")


class EnsImageCatalogStatus(ApiModel):
    """The listed images."""

    images: list[CatalogImage] | None = Field(None, description="Public images matching spec.osType.")
    image_count: int | None = Field(None, description="Number of images listed.")
    last_refresh_time: str | None = Field(None, description="When the list was last refreshed (RFC 3339).")
    observed_generation: int | None = Field(
        None, description="The metadata.generation the status was computed from."
    )
    conditions: list[Condition] | None = CONDITIONS_FIELD
