"""The current official SDK (alibabacloud_ens20171110, ACS3-HMAC-SHA256) drives every image operation.

Each error must reach the caller as the SDK's own exception carrying the emulator's Code.
"""

from __future__ import annotations

import time

import httpx
import pytest
from alibabacloud_ens20171110 import models as ens
from alibabacloud_ens20171110.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions
from sdk_setup import force_status, import_request

from ens_image_kit.emulator import RunningEmulator


def _import(v3: Client, name: str = "ubuntu-22-golden") -> str:
    image_id: str = v3.import_image(import_request(name)).body.image_id
    return image_id


def _available_image(v3: Client, admin: httpx.Client, name: str = "ubuntu-22-golden") -> str:
    image_id = _import(v3, name)
    force_status(admin, image_id, Status="Available")
    return image_id


def _error(call: object) -> ClientException:
    assert callable(call)
    with pytest.raises(ClientException) as raised:
        call()
    return raised.value


# --- ImportImage -----------------------------------------------------------------------------


def test_import_returns_an_image_id_that_starts_in_creating(v3: Client) -> None:
    image_id = _import(v3)
    assert image_id.startswith("m-")
    listed = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
    assert [(i.image_id, i.image_name, i.status) for i in listed.images.image] == [
        (image_id, "ubuntu-22-golden", "Creating")
    ]


def test_import_advances_through_packing_and_uploading_to_available(v3: Client, admin: httpx.Client) -> None:
    admin.post("/config", json={"stepSeconds": 0.05}).raise_for_status()
    image_id = _import(v3)
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while not seen or seen[-1] != "Available":
        assert time.monotonic() < deadline, f"stuck after {seen}"
        body = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
        status = body.images.image[0].status
        if not seen or seen[-1] != status:
            seen.append(status)
    order = ["Creating", "Packing", "Uploading", "Available"]
    assert seen == sorted(seen, key=order.index)


def test_import_of_the_same_name_twice_creates_two_images(v3: Client) -> None:
    first, second = _import(v3, "twin"), _import(v3, "twin")
    assert first != second
    listed = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_name="twin")).body
    assert listed.total_count == "2"


def test_import_without_a_name_is_missing_parameter(v3: Client) -> None:
    error = _error(lambda: v3.import_image(import_request(image_name=None)))
    assert (error.code, error.status_code) == ("MissingParameter", 400)


@pytest.mark.parametrize("name", ["1starts-with-digit", "x", "has space", "http://example.com/a"])
def test_import_with_a_bad_name_is_invalid_image_name(v3: Client, name: str) -> None:
    error = _error(lambda: v3.import_image(import_request(name)))
    assert error.code == "InvalidParameter.ImageName"


def test_import_of_an_arm_image_is_invalid_architecture(v3: Client) -> None:
    error = _error(lambda: v3.import_image(import_request(architecture="arm64")))
    assert error.code == "InvalidParameter.Architecture"


def test_import_of_five_disks_is_invalid_disk_device_mapping(v3: Client) -> None:
    disk = ens.ImportImageRequestDiskDeviceMapping(ossbucket="b", ossobject="d.qcow2")
    error = _error(lambda: v3.import_image(import_request(disk_device_mapping=[disk] * 5)))
    assert error.code == "InvalidParameter.DiskDeviceMapping"


def test_import_from_a_missing_object_ends_in_pack_failed(v3: Client, admin: httpx.Client) -> None:
    admin.post("/missing", json={"objects": [{"bucket": "images", "object": "ubuntu/22.04.qcow2"}]})
    admin.post("/config", json={"stepSeconds": 0.02}).raise_for_status()
    image_id = _import(v3)
    deadline = time.monotonic() + 10
    status = "Creating"
    while status == "Creating" and time.monotonic() < deadline:
        body = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
        status = body.images.image[0].status
    assert status == "Pack_failed"


# --- DescribeSelfImages ------------------------------------------------------------------------


def test_describe_self_images_filters_names_by_substring(v3: Client) -> None:
    _import(v3, "web-frontend")
    _import(v3, "web-backend")
    _import(v3, "database")
    body = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_name="web-")).body
    assert sorted(i.image_name for i in body.images.image) == ["web-backend", "web-frontend"]


def test_describe_self_images_pages_newest_first_with_a_total(v3: Client) -> None:
    ids = [_import(v3, f"img-{n}") for n in range(5)]
    pages = [
        v3.describe_self_images(ens.DescribeSelfImagesRequest(page_number=n, page_size=2)).body
        for n in (1, 2, 3)
    ]
    assert [p.total_count for p in pages] == ["5", "5", "5"]
    assert [i.image_id for p in pages for i in p.images.image] == ids[::-1]


def test_describe_self_images_reports_each_disk(v3: Client) -> None:
    disks = [
        ens.ImportImageRequestDiskDeviceMapping(ossbucket="b", ossobject=f"d{n}.qcow2") for n in range(2)
    ]
    image_id = v3.import_image(import_request(disk_device_mapping=disks)).body.image_id
    image = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body.images.image[0]
    mappings = image.disk_device_mappings.disk_device_mapping
    assert [(m.type, m.format, m.image_id) for m in mappings] == [
        ("System", "qcow2", image_id),
        ("Data", "qcow2", image_id),
    ]


def test_describe_self_images_refuses_pages_over_fifty(v3: Client) -> None:
    error = _error(lambda: v3.describe_self_images(ens.DescribeSelfImagesRequest(page_size=51)))
    assert error.code == "InvalidParameter.PageSize"


# --- ModifyImageAttribute / DeleteImage -----------------------------------------------------


def test_modify_image_attribute_renames_the_image(v3: Client) -> None:
    image_id = _import(v3, "old-name")
    v3.modify_image_attribute(ens.ModifyImageAttributeRequest(image_id=image_id, image_name="new-name"))
    body = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
    assert body.images.image[0].image_name == "new-name"


def test_modify_image_attribute_refuses_a_bad_name(v3: Client) -> None:
    image_id = _import(v3)
    request = ens.ModifyImageAttributeRequest(image_id=image_id, image_name="-bad")
    assert _error(lambda: v3.modify_image_attribute(request)).code == "InvalidParameter.ImageName"


def test_delete_image_removes_it_from_the_listing(v3: Client) -> None:
    image_id = _import(v3)
    assert v3.delete_image(ens.DeleteImageRequest(image_id=image_id)).body.code == 0
    body = v3.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
    assert (body.total_count, body.images.image) == ("0", [])


def test_delete_of_an_unknown_image_is_not_found(v3: Client) -> None:
    error = _error(lambda: v3.delete_image(ens.DeleteImageRequest(image_id="m-nosuchimage")))
    assert (error.code, error.status_code) == ("ImageId.NotFound", 404)


def test_delete_of_an_exporting_image_is_refused(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    v3.export_image(ens.ExportImageRequest(image_id=image_id, ossbucket="out", ossregion_id="cn-beijing"))
    error = _error(lambda: v3.delete_image(ens.DeleteImageRequest(image_id=image_id)))
    assert error.code == "IncorrectImageStatus"


# --- ExportImage and its progress ------------------------------------------------------------


def test_export_returns_the_oss_url_of_the_qcow2(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    request = ens.ExportImageRequest(
        image_id=image_id, ossbucket="out", ossregion_id="cn-beijing", ossprefix="golden"
    )
    url = v3.export_image(request).body.exported_image_url
    assert url == f"https://out.oss-cn-beijing.aliyuncs.com/golden{image_id}.qcow2"


def test_export_completes_after_one_step(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    admin.post("/config", json={"stepSeconds": 0.05}).raise_for_status()
    v3.export_image(ens.ExportImageRequest(image_id=image_id, ossbucket="out", ossregion_id="cn-beijing"))
    request = ens.DescribeExportImageStatusRequest(image_id=image_id)
    assert v3.describe_export_image_status(request).body.image_export_status == "Exporting"
    deadline = time.monotonic() + 10
    while v3.describe_export_image_status(request).body.image_export_status == "Exporting":
        assert time.monotonic() < deadline
    assert v3.describe_export_image_status(request).body.image_export_status == "Exported"


def test_export_of_an_image_still_importing_is_incorrect_status(v3: Client) -> None:
    image_id = _import(v3)
    request = ens.ExportImageRequest(image_id=image_id, ossbucket="out", ossregion_id="cn-beijing")
    assert _error(lambda: v3.export_image(request)).code == "IncorrectImageStatus"


def test_export_while_exporting_is_operation_denied(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    request = ens.ExportImageRequest(image_id=image_id, ossbucket="out", ossregion_id="cn-beijing")
    v3.export_image(request)
    assert _error(lambda: v3.export_image(request)).code == "OperationDenied.ImageExporting"


def test_export_to_a_missing_bucket_is_bucket_not_found(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    admin.post("/missing", json={"buckets": ["gone"]}).raise_for_status()
    request = ens.ExportImageRequest(image_id=image_id, ossbucket="gone", ossregion_id="cn-beijing")
    assert _error(lambda: v3.export_image(request)).code == "OssBucket.NotFound"


def test_export_with_a_long_prefix_is_malformed(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    request = ens.ExportImageRequest(
        image_id=image_id, ossbucket="out", ossregion_id="cn-beijing", ossprefix="p" * 31
    )
    assert _error(lambda: v3.export_image(request)).code == "OssPrefix.Malformed"


def test_export_without_a_region_is_missing_parameter(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    request = ens.ExportImageRequest(image_id=image_id, ossbucket="out")
    assert _error(lambda: v3.export_image(request)).code == "MissingParameter"


def test_export_of_an_unknown_image_is_not_found(v3: Client) -> None:
    request = ens.ExportImageRequest(image_id="m-nosuchimage", ossbucket="out", ossregion_id="cn-beijing")
    assert _error(lambda: v3.export_image(request)).code == "ImageId.NotFound"


def test_export_status_of_an_unknown_image_is_not_found(v3: Client) -> None:
    request = ens.DescribeExportImageStatusRequest(image_id="m-nosuchimage")
    assert _error(lambda: v3.describe_export_image_status(request)).code == "ImageId.NotFound"


def test_export_info_publishes_the_url_once_exported(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    v3.export_image(ens.ExportImageRequest(image_id=image_id, ossbucket="out", ossregion_id="cn-beijing"))
    force_status(admin, image_id, ExportStatus="Exported")
    body = v3.describe_export_image_info(ens.DescribeExportImageInfoRequest(image_id=image_id)).body
    assert (body.page_number, body.page_size, body.total_count) == (1, 10, 1)
    entry = body.images.image[0]
    assert (entry.image_export_status, entry.exported_image_url) == (
        "Exported",
        f"https://out.oss-cn-beijing.aliyuncs.com/{image_id}.qcow2",
    )


def test_export_info_refuses_pages_over_fifty(v3: Client) -> None:
    request = ens.DescribeExportImageInfoRequest(page_size=51)
    assert _error(lambda: v3.describe_export_image_info(request)).code == "InvalidParameter.PageSize"


# --- DescribeImageInfos ----------------------------------------------------------------------


def test_image_infos_lists_the_public_catalogue(v3: Client) -> None:
    images = v3.describe_image_infos(ens.DescribeImageInfosRequest()).body.images.image
    names = " ".join(i.osname for i in images)
    for distribution in ("CentOS 7.9", "Ubuntu 22.04", "Ubuntu 24.04", "Debian 12", "Windows Server 2022"):
        assert distribution in names


def test_image_infos_filters_by_os_type(v3: Client) -> None:
    images = v3.describe_image_infos(ens.DescribeImageInfosRequest(os_type="windows")).body.images.image
    assert images
    assert {i.ostype for i in images} == {"windows"}


# --- unknown operations ----------------------------------------------------------------------


def test_an_unknown_action_is_not_found(emulator: RunningEmulator, v3: Client) -> None:
    params = Params(
        action="DescribeUnicorns",
        version="2017-11-10",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    error = _error(lambda: v3.call_api(params, OpenApiRequest(query={}), RuntimeOptions()))
    assert (error.code, error.status_code) == ("InvalidAction.NotFound", 404)


def test_the_call_log_names_the_key_of_a_call_that_failed_validation(v3: Client, admin: httpx.Client) -> None:
    _error(lambda: v3.import_image(import_request("-bad-name")))
    [entry] = admin.get("/calls/log", params={"action": "ImportImage"}).json()
    assert (entry["code"], entry["accessKeyId"]) == ("InvalidParameter.ImageName", "testid")
