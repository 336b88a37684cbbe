"""Wire models speak the SDK's parameter names and tolerate the API's loose typing."""

from __future__ import annotations

from ens_image_operator.ens.models import (
    DiskDeviceMapping,
    ImageInfosResponse,
    ImportImageRequest,
    SelfImagesPage,
)


def test_import_request_uses_sdk_wire_names_and_defaults() -> None:
    query = ImportImageRequest(image_name="img", os_type="linux", oss_bucket="b", oss_object="o").to_query()
    assert query == {
        "ImageName": "img",
        "OSType": "linux",
        "Architecture": "x86_64",
        "ImageFormat": "qcow2",
        "ComputeType": "ens_vm",
        "OSSBucket": "b",
        "OSSObject": "o",
    }


def test_disk_device_mapping_is_one_compact_json_value_in_sdk_key_order() -> None:
    request = ImportImageRequest(
        image_name="img",
        os_type="linux",
        disk_device_mapping=[
            DiskDeviceMapping(oss_region="cn-beijing", oss_object="d1.qcow2", oss_bucket="bkt"),
            DiskDeviceMapping(oss_bucket="bkt", oss_object="d2.qcow2"),
        ],
    )
    assert request.to_query()["DiskDeviceMapping"] == (
        '[{"OSSBucket":"bkt","OSSObject":"d1.qcow2","OSSRegion":"cn-beijing"},'
        '{"OSSBucket":"bkt","OSSObject":"d2.qcow2"}]'
    )


def test_disk_device_mapping_keeps_non_ascii_characters() -> None:
    request = ImportImageRequest(
        image_name="img", os_type="linux", disk_device_mapping=[DiskDeviceMapping(oss_object="镜像.qcow2")]
    )
    assert request.to_query()["DiskDeviceMapping"] == '[{"OSSObject":"镜像.qcow2"}]'


def test_no_disk_device_mapping_parameter_when_there_are_none() -> None:
    assert "DiskDeviceMapping" not in ImportImageRequest(image_name="i", os_type="linux").to_query()


def test_request_accepts_wire_names_too() -> None:
    request = ImportImageRequest.model_validate(
        {"ImageName": "i", "OSType": "linux", "OSSRegion": "cn-beijing"}
    )
    assert request.oss_region == "cn-beijing"


def test_self_images_page_turns_string_numbers_into_ints() -> None:
    page = SelfImagesPage.model_validate(
        {
            "PageNumber": "2",
            "PageSize": "50",
            "TotalCount": "51",
            "Images": {"Image": [{"ImageId": "m-1", "ImageSize": "20", "OsVersion": "22.04"}]},
        }
    )
    assert (page.page_number, page.total_count, page.images[0].image_size) == (2, 51, 20)
    assert page.images[0].os_version == "22.04"


def test_blank_numbers_become_none() -> None:
    page = SelfImagesPage.model_validate({"Images": {"Image": [{"ImageId": "m-1", "ImageSize": ""}]}})
    assert page.images[0].image_size is None


def test_missing_or_empty_image_list_is_an_empty_page() -> None:
    assert SelfImagesPage.model_validate({"Images": {}}).images == []
    assert SelfImagesPage.model_validate({}).images == []


def test_image_infos_read_os_fields_and_nested_disks() -> None:
    response = ImageInfosResponse.model_validate(
        {
            "Images": {
                "Image": [
                    {
                        "ImageId": "centos_7",
                        "OSName": "CentOS 7",
                        "OSType": "linux",
                        "ImageSize": "40",
                        "DiskDeviceMappings": {"DiskDeviceMapping": [{"Size": "40", "imageId": "centos_7"}]},
                    }
                ]
            }
        }
    )
    info = response.images[0]
    assert (info.os_name, info.os_type, info.image_size, info.disks[0].size) == ("CentOS 7", "linux", 40, 40)
