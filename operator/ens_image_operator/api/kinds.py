"""The three kinds: names, models and printer columns, in one table read by crdgen and the operator."""

from __future__ import annotations

from dataclasses import dataclass, field

from ens_image_operator import GROUP, VERSION
from ens_image_operator.api.catalog import EnsImageCatalogSpec, EnsImageCatalogStatus
from ens_image_operator.api.common import ApiModel
from ens_image_operator.api.export import EnsImageExportSpec, EnsImageExportStatus
from ens_image_operator.api.image import EnsImageSpec, EnsImageStatus

READY_COLUMN = {
    "name": "Ready",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    "description": "Whether the object is Ready.",
}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


@dataclass(frozen=True)
class Kind:
    """One custom resource kind."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    spec: type[ApiModel]
    status: type[ApiModel]
    columns: tuple[dict[str, str], ...] = field(default_factory=tuple)
    group: str = GROUP
    version: str = VERSION
    categories: tuple[str, ...] = ("ens",)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


ENS_IMAGE = Kind(
    kind="EnsImage",
    plural="ensimages",
    short_names=("ensimg",),
    description="An Alibaba Cloud ENS custom image, imported from OSS or adopted by id.",
    spec=EnsImageSpec,
    status=EnsImageStatus,
    columns=(
        {"name": "Image-ID", "type": "string", "jsonPath": ".status.imageId", "description": "ENS image id."},
        {
            "name": "Status",
            "type": "string",
            "jsonPath": ".status.imageStatus",
            "description": "Image status reported by ENS.",
        },
        READY_COLUMN,
        AGE_COLUMN,
    ),
)

ENS_IMAGE_EXPORT = Kind(
    kind="EnsImageExport",
    plural="ensimageexports",
    short_names=("ensexp",),
    description="An export of an ENS image to an OSS bucket.",
    spec=EnsImageExportSpec,
    status=EnsImageExportStatus,
    columns=(
        {"name": "Image-ID", "type": "string", "jsonPath": ".status.imageId", "description": "ENS image id."},
        {
            "name": "Export",
            "type": "string",
            "jsonPath": ".status.exportStatus",
            "description": "Export status reported by ENS.",
        },
        {
            "name": "URL",
            "type": "string",
            "jsonPath": ".status.exportedImageURL",
            "description": "URL of the exported image.",
        },
        READY_COLUMN,
        AGE_COLUMN,
    ),
)

ENS_IMAGE_CATALOG = Kind(
    kind="EnsImageCatalog",
    plural="ensimagecatalogs",
    short_names=("enscat",),
    description="The public images ENS offers, refreshed periodically.",
    spec=EnsImageCatalogSpec,
    status=EnsImageCatalogStatus,
    columns=(
        {"name": "OS", "type": "string", "jsonPath": ".spec.osType", "description": "OS type filter."},
        {
            "name": "Images",
            "type": "integer",
            "jsonPath": ".status.imageCount",
            "description": "Number of images listed.",
        },
        AGE_COLUMN,
    ),
)

KINDS: tuple[Kind, ...] = (ENS_IMAGE, ENS_IMAGE_EXPORT, ENS_IMAGE_CATALOG)
