"""The pydantic models enforce the same field rules as the CRD schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ens_image_operator.api.catalog import EnsImageCatalogSpec
from ens_image_operator.api.export import EnsImageExportSpec
from ens_image_operator.api.image import EnsImageSpec

SOURCE = {"oss": {"bucket": "images", "object": "web.qcow2", "region": "cn-beijing"}}


@pytest.mark.parametrize("name", ["web", "Web-01:v2_x", "镜像一", "a" * 128])
def test_valid_image_names_are_accepted(name: str) -> None:
    assert EnsImageSpec.model_validate({"imageName": name, "source": SOURCE}).image_name == name


@pytest.mark.parametrize("name", ["w", "1web", "http://x", "https://x", "web/1", "a" * 129, "-web"])
def test_invalid_image_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        EnsImageSpec.model_validate({"imageName": name, "source": SOURCE})


def test_more_than_four_data_disks_are_refused() -> None:
    disk = {"bucket": "images", "object": "d.qcow2", "region": "cn-beijing"}
    with pytest.raises(ValidationError):
        EnsImageSpec.model_validate({"source": SOURCE, "dataDisks": [disk] * 5})


def test_wire_names_round_trip() -> None:
    spec = EnsImageSpec.model_validate({"source": SOURCE, "targetOSSRegionId": "cn-beijing"})
    assert spec.to_wire()["targetOSSRegionId"] == "cn-beijing"


@pytest.mark.parametrize("prefix", ["", "a" * 31, "bad-prefix", "with space"])
def test_invalid_export_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValidationError):
        EnsImageExportSpec.model_validate(
            {"imageId": "m-1", "ossBucket": "exp", "ossRegionId": "cn-beijing", "ossPrefix": prefix}
        )


@pytest.mark.parametrize("interval", ["1h", "30m", "1h30m", "90s", "1.5h"])
def test_go_durations_are_accepted_as_refresh_interval(interval: str) -> None:
    assert EnsImageCatalogSpec.model_validate({"refreshInterval": interval}).refresh_interval == interval


@pytest.mark.parametrize("interval", ["1 hour", "h", "10", "-1h"])
def test_other_refresh_intervals_are_refused(interval: str) -> None:
    with pytest.raises(ValidationError):
        EnsImageCatalogSpec.model_validate({"refreshInterval": interval})
