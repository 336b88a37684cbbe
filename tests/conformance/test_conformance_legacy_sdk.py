"""The legacy SDK (aliyunsdkcore + aliyunsdkens, HMAC-SHA1 query signature) drives every image operation.

Also the current SDK switched to the same legacy signature with ``signature_algorithm='v2'``.
"""

from __future__ import annotations

import json

import httpx
import pytest
from alibabacloud_ens20171110 import models as ens
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkens.request.v20171110.DeleteImageRequest import DeleteImageRequest
from aliyunsdkens.request.v20171110.DescribeExportImageInfoRequest import DescribeExportImageInfoRequest
from aliyunsdkens.request.v20171110.DescribeExportImageStatusRequest import (
    DescribeExportImageStatusRequest,
)
from aliyunsdkens.request.v20171110.DescribeImageInfosRequest import DescribeImageInfosRequest
from aliyunsdkens.request.v20171110.DescribeSelfImagesRequest import DescribeSelfImagesRequest
from aliyunsdkens.request.v20171110.ExportImageRequest import ExportImageRequest
from aliyunsdkens.request.v20171110.ImportImageRequest import ImportImageRequest
from aliyunsdkens.request.v20171110.ModifyImageAttributeRequest import ModifyImageAttributeRequest
from sdk_setup import force_status, import_request, legacy_send, v3_client

from ens_image_kit.emulator import RunningEmulator

DISKS = [{"OSSBucket": "images", "OSSObject": "centos/7.9 base.qcow2", "OSSRegion": "cn-beijing"}]


def _import(emulator: RunningEmulator, name: str = "centos-79-golden") -> str:
    request = ImportImageRequest()
    request.set_ImageName(name)
    request.set_Architecture("x86_64")
    request.set_ComputeType("ens_vm")
    request.set_ImageFormat("qcow2")
    request.set_OSType("linux")
    request.set_DiskDeviceMapping(json.dumps(DISKS))
    image_id: str = legacy_send(emulator, request)["ImageId"]
    return image_id


def _self_images(emulator: RunningEmulator, **filters: str) -> dict[str, object]:
    request = DescribeSelfImagesRequest()
    for name, value in filters.items():
        request.add_query_param(name, value)
    return legacy_send(emulator, request)


def _server_error(emulator: RunningEmulator, request: object) -> ServerException:
    with pytest.raises(ServerException) as raised:
        legacy_send(emulator, request)  # type: ignore[arg-type]
    return raised.value


def test_import_then_list_by_id(emulator: RunningEmulator) -> None:
    image_id = _import(emulator)
    images = _self_images(emulator, ImageId=image_id)["Images"]
    assert isinstance(images, dict)
    [image] = images["Image"]
    assert (image["ImageName"], image["Status"]) == ("centos-79-golden", "Creating")


def test_import_with_a_bad_os_type_is_refused(emulator: RunningEmulator) -> None:
    request = ImportImageRequest()
    for name, value in {
        "ImageName": "centos",
        "Architecture": "x86_64",
        "ComputeType": "ens_vm",
        "ImageFormat": "qcow2",
        "OSType": "freebsd",
        "DiskDeviceMapping": json.dumps(DISKS),
    }.items():
        request.add_query_param(name, value)
    error = _server_error(emulator, request)
    assert (error.get_error_code(), error.get_http_status()) == ("InvalidParameter.OSType", 400)


def test_list_with_a_page_too_large_is_refused(emulator: RunningEmulator) -> None:
    request = DescribeSelfImagesRequest()
    request.set_PageSize(100)
    assert _server_error(emulator, request).get_error_code() == "InvalidParameter.PageSize"


def test_rename_then_delete(emulator: RunningEmulator) -> None:
    image_id = _import(emulator)
    rename = ModifyImageAttributeRequest()
    rename.set_ImageId(image_id)
    rename.set_ImageName("renamed")
    legacy_send(emulator, rename)
    assert _self_images(emulator, ImageName="renamed")["TotalCount"] == "1"
    delete = DeleteImageRequest()
    delete.set_ImageId(image_id)
    legacy_send(emulator, delete)
    assert _self_images(emulator, ImageId=image_id)["TotalCount"] == "0"


def test_delete_of_an_unknown_image_is_not_found(emulator: RunningEmulator) -> None:
    request = DeleteImageRequest()
    request.set_ImageId("m-nosuchimage")
    error = _server_error(emulator, request)
    assert (error.get_error_code(), error.get_http_status()) == ("ImageId.NotFound", 404)


def test_export_and_follow_it(emulator: RunningEmulator, admin: httpx.Client) -> None:
    image_id = _import(emulator)
    force_status(admin, image_id, Status="Available")
    export = ExportImageRequest()
    export.set_ImageId(image_id)
    export.set_OSSBucket("out")
    export.set_OSSRegionId("ap-southeast-1")
    url = legacy_send(emulator, export)["ExportedImageURL"]
    assert url == f"https://out.oss-ap-southeast-1.aliyuncs.com/{image_id}.qcow2"
    status = DescribeExportImageStatusRequest()
    status.set_ImageId(image_id)
    assert legacy_send(emulator, status)["ImageExportStatus"] == "Exporting"
    force_status(admin, image_id, ExportStatus="Exported")
    info = DescribeExportImageInfoRequest()
    info.set_ImageId(image_id)
    [entry] = legacy_send(emulator, info)["Images"]["Image"]
    assert (entry["ImageExportStatus"], entry["ExportedImageURL"]) == ("Exported", url)


def test_export_without_a_bucket_is_missing_parameter(emulator: RunningEmulator) -> None:
    export = ExportImageRequest()
    export.set_ImageId(_import(emulator))
    export.set_OSSRegionId("cn-beijing")
    assert _server_error(emulator, export).get_error_code() == "MissingParameter"


def test_public_catalogue_by_os_type(emulator: RunningEmulator) -> None:
    request = DescribeImageInfosRequest()
    request.set_OsType("linux")
    images = legacy_send(emulator, request)["Images"]["Image"]
    assert images
    assert {image["OSType"] for image in images} == {"linux"}


def test_the_current_sdk_with_the_legacy_signature_is_accepted(emulator: RunningEmulator) -> None:
    client = v3_client(emulator, signature_algorithm="v2")
    image_id = client.import_image(import_request("signed-v2:name")).body.image_id
    body = client.describe_self_images(ens.DescribeSelfImagesRequest(image_name="v2:na")).body
    assert [i.image_id for i in body.images.image] == [image_id]
