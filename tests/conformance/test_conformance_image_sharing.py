"""Both SDKs share images between accounts: ModifyImageSharePermission, DescribeImageSharePermission.

The image owner is the test key's account (the emulator's default account); ``other`` is a second
account. Codes and HTTP statuses are the ones the ENS API reference documents for these operations.
"""

from __future__ import annotations

import httpx
import pytest
from alibabacloud_ens20171110 import models as ens
from alibabacloud_ens20171110.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkens.request.v20171110.DescribeImageSharePermissionRequest import (
    DescribeImageSharePermissionRequest,
)
from aliyunsdkens.request.v20171110.ModifyImageSharePermissionRequest import (
    ModifyImageSharePermissionRequest,
)
from sdk_setup import OTHER_ACCOUNT_ID, force_status, import_request, legacy_send

from ens_image_kit.emulator import DEFAULT_ACCOUNT_ID, RunningEmulator

FIRST, SECOND = "1111111111111111", "2222222222222222"
PUBLIC_IMAGE = "ubuntu_22_04_x64_20G_alibase_20240926"


def _available_image(v3: Client, admin: httpx.Client, name: str = "shared-golden") -> str:
    image_id: str = v3.import_image(import_request(name)).body.image_id
    force_status(admin, image_id, Status="Available")
    return image_id


def _share(v3: Client, image_id: str, add: str | None = None, remove: str | None = None) -> None:
    request = ens.ModifyImageSharePermissionRequest(
        image_id=image_id, add_accounts=add, remove_accounts=remove
    )
    v3.modify_image_share_permission(request)


def _shares(v3: Client, image_id: str, **paging: str) -> ens.DescribeImageSharePermissionResponseBody:
    request = ens.DescribeImageSharePermissionRequest(image_id=image_id, **paging)
    body: ens.DescribeImageSharePermissionResponseBody = v3.describe_image_share_permission(request).body
    return body


def _uids(body: ens.DescribeImageSharePermissionResponseBody) -> list[str]:
    return [account.aliyun_uid for account in body.accounts.account]


def _error(call: object) -> ClientException:
    assert callable(call)
    with pytest.raises(ClientException) as raised:
        call()
    return raised.value


def _listed(client: Client) -> dict[str, str]:
    """ImageId -> ImageOwnerAlias of everything DescribeSelfImages lists to this client's account."""
    images = client.describe_self_images(ens.DescribeSelfImagesRequest(page_size=50)).body.images.image
    return {image.image_id: image.image_owner_alias for image in images}


# --- ModifyImageSharePermission and DescribeImageSharePermission ------------------------------


def test_an_image_shared_with_two_accounts_lists_both(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    response = v3.modify_image_share_permission(
        ens.ModifyImageSharePermissionRequest(image_id=image_id, add_accounts=f"{FIRST},{SECOND}")
    )
    assert response.status_code == 200 and response.body.request_id
    body = _shares(v3, image_id)
    assert (body.image_id, body.total_count, body.page_number, body.page_size) == (image_id, 2, 1, 10)
    assert _uids(body) == [FIRST, SECOND]


def test_the_share_list_pages_one_account_at_a_time(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=f"{FIRST},{SECOND}")
    first = _shares(v3, image_id, page_size="1")
    second = _shares(v3, image_id, page_size="1", page_number="2")
    assert (first.total_count, first.page_size, first.page_number, _uids(first)) == (2, 1, 1, [FIRST])
    assert (second.total_count, second.page_number, _uids(second)) == (2, 2, [SECOND])
    assert _uids(_shares(v3, image_id, page_size="1", page_number="3")) == []


def test_removing_one_account_keeps_the_other(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=f"{FIRST},{SECOND}")
    _share(v3, image_id, remove=FIRST)
    body = _shares(v3, image_id)
    assert (body.total_count, _uids(body)) == (1, [SECOND])


def test_sharing_again_with_the_same_account_changes_nothing(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=FIRST)
    _share(v3, image_id, add=f"{FIRST},{SECOND}")
    assert _uids(_shares(v3, image_id)) == [FIRST, SECOND]


def test_aliyun_id_narrows_the_share_list_to_one_account(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=f"{FIRST},{SECOND}")
    request = ens.DescribeImageSharePermissionRequest(image_id=image_id, aliyun_id=int(SECOND))
    body = v3.describe_image_share_permission(request).body
    assert (body.total_count, _uids(body)) == (1, [SECOND])


def test_an_image_never_shared_has_an_empty_share_list(v3: Client, admin: httpx.Client) -> None:
    body = _shares(v3, _available_image(v3, admin))
    assert (body.total_count, _uids(body)) == (0, [])


# --- errors -------------------------------------------------------------------------------------


def test_share_without_an_image_id_is_missing_parameter(v3: Client) -> None:
    error = _error(lambda: _share(v3, None, add=FIRST))  # type: ignore[arg-type]
    assert (error.code, error.status_code) == ("MissingParameter", 400)


def test_share_list_without_an_image_id_is_missing_parameter(v3: Client) -> None:
    error = _error(lambda: v3.describe_image_share_permission(ens.DescribeImageSharePermissionRequest()))
    assert (error.code, error.status_code) == ("MissingParameter", 400)


def test_share_without_accounts_to_add_or_remove_is_missing_parameter(
    v3: Client, admin: httpx.Client
) -> None:
    error = _error(lambda: _share(v3, _available_image(v3, admin)))
    assert (error.code, error.status_code) == ("MissingParameter", 400)


def test_share_of_an_unknown_image_is_invalid_image_id(v3: Client) -> None:
    error = _error(lambda: _share(v3, "m-doesnotexist", add=FIRST))
    assert (error.code, error.status_code) == ("InvalidParameter.ImageId", 400)


def test_share_list_of_an_unknown_image_is_invalid_image_id(v3: Client) -> None:
    error = _error(lambda: _shares(v3, "m-doesnotexist"))
    assert (error.code, error.status_code) == ("InvalidParameter.ImageId", 400)


def test_share_of_a_deleted_image_is_invalid_image_id(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    v3.delete_image(ens.DeleteImageRequest(image_id=image_id))
    error = _error(lambda: _share(v3, image_id, add=FIRST))
    assert (error.code, error.status_code) == ("InvalidParameter.ImageId", 400)


def test_share_of_a_public_image_is_an_unsupported_image_type(v3: Client) -> None:
    error = _error(lambda: _share(v3, PUBLIC_IMAGE, add=FIRST))
    assert (error.code, error.status_code) == ("InvalidImageType.NotSupported", 400)


@pytest.mark.parametrize("status", ["Creating", "Uploading", "Pack_failed"])
def test_share_of_an_image_that_is_not_available_is_invalid_parameter(
    v3: Client, admin: httpx.Client, status: str
) -> None:
    image_id = _available_image(v3, admin)
    force_status(admin, image_id, Status=status)
    error = _error(lambda: _share(v3, image_id, add=FIRST))
    assert (error.code, error.status_code) == ("InvalidParameter", 400)


@pytest.mark.parametrize("accounts", ["12345abc", "1111111111111111;2222222222222222", f"{FIRST},", "-1"])
def test_share_with_an_account_id_that_is_not_digits_is_invalid_add_accounts(
    v3: Client, admin: httpx.Client, accounts: str
) -> None:
    error = _error(lambda: _share(v3, _available_image(v3, admin), add=accounts))
    assert (error.code, error.status_code) == ("InvalidParameter.AddAccounts", 400)


def test_share_with_the_owners_own_account_is_invalid_add_accounts(v3: Client, admin: httpx.Client) -> None:
    error = _error(lambda: _share(v3, _available_image(v3, admin), add=f"{FIRST},{DEFAULT_ACCOUNT_ID}"))
    assert (error.code, error.status_code) == ("InvalidParameter.AddAccounts", 400)


def test_a_refused_share_shares_with_nobody(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    _error(lambda: _share(v3, image_id, add=f"{FIRST},{DEFAULT_ACCOUNT_ID}"))
    assert _uids(_shares(v3, image_id)) == []


def test_removing_an_account_not_shared_with_is_invalid_remove_accounts(
    v3: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=FIRST)
    error = _error(lambda: _share(v3, image_id, remove=SECOND))
    assert (error.code, error.status_code) == ("InvalidParameter.RemoveAccounts", 400)


def test_removing_two_accounts_in_one_call_is_invalid_remove_accounts(
    v3: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=f"{FIRST},{SECOND}")
    error = _error(lambda: _share(v3, image_id, remove=f"{FIRST},{SECOND}"))
    assert (error.code, error.status_code) == ("InvalidParameter.RemoveAccounts", 400)
    assert _uids(_shares(v3, image_id)) == [FIRST, SECOND]


def test_share_list_pages_over_a_hundred_are_refused(v3: Client, admin: httpx.Client) -> None:
    image_id = _available_image(v3, admin)
    assert _shares(v3, image_id, page_size="100").page_size == 100
    error = _error(lambda: _shares(v3, image_id, page_size="101"))
    assert (error.code, error.status_code) == ("InvalidParameter.PageSize", 400)


def test_a_non_numeric_aliyun_id_is_invalid(
    emulator: RunningEmulator, admin: httpx.Client, v3: Client
) -> None:
    # The V3 model types AliyunId as an int; the legacy request passes whatever it is given.
    request = DescribeImageSharePermissionRequest()
    request.set_ImageId(_available_image(v3, admin))
    request.set_AliyunId("alice")
    with pytest.raises(ServerException) as raised:
        legacy_send(emulator, request)
    assert (raised.value.get_error_code(), raised.value.get_http_status()) == (
        "InvalidParameter.AliyunId",
        400,
    )


# --- what the other account sees and may do ---------------------------------------------------


def test_the_other_account_lists_a_shared_image_as_others(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    assert image_id not in _listed(other)
    _share(v3, image_id, add=OTHER_ACCOUNT_ID)
    assert _listed(other) == {image_id: "others"}
    assert _listed(v3)[image_id] == "self"


def test_the_other_account_reads_the_shared_image_by_id(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin, "readable")
    _share(v3, image_id, add=OTHER_ACCOUNT_ID)
    body = other.describe_self_images(ens.DescribeSelfImagesRequest(image_id=image_id)).body
    assert [(i.image_name, i.status, i.image_owner_alias) for i in body.images.image] == [
        ("readable", "Available", "others")
    ]
    status = other.describe_export_image_status(ens.DescribeExportImageStatusRequest(image_id=image_id))
    assert status.body.image_export_status == "Unexported"


def test_withdrawing_the_share_hides_the_image_from_the_other_account(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=f"{FIRST},{OTHER_ACCOUNT_ID}")
    _share(v3, image_id, remove=OTHER_ACCOUNT_ID)
    assert image_id not in _listed(other)
    assert _uids(_shares(v3, image_id)) == [FIRST]


def test_the_other_account_cannot_delete_a_shared_image(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=OTHER_ACCOUNT_ID)
    error = _error(lambda: other.delete_image(ens.DeleteImageRequest(image_id=image_id)))
    assert (error.code, error.status_code) == ("NoPermission", 400)
    assert _listed(v3)[image_id] == "self"


def test_the_other_account_cannot_export_rename_or_reshare_a_shared_image(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=OTHER_ACCOUNT_ID)
    calls = [
        lambda: other.export_image(
            ens.ExportImageRequest(image_id=image_id, ossbucket="b", ossregion_id="cn-beijing")
        ),
        lambda: other.modify_image_attribute(
            ens.ModifyImageAttributeRequest(image_id=image_id, image_name="mine")
        ),
        lambda: _share(other, image_id, add=FIRST),
        lambda: _shares(other, image_id),
    ]
    errors = [_error(call) for call in calls]
    assert [(error.code, error.status_code) for error in errors] == [("NoPermission", 400)] * 4


def test_an_image_not_shared_is_not_found_for_the_other_account(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    error = _error(lambda: other.delete_image(ens.DeleteImageRequest(image_id=image_id)))
    assert (error.code, error.status_code) == ("ImageId.NotFound", 404)
    error = _error(lambda: _share(other, image_id, add=FIRST))
    assert (error.code, error.status_code) == ("InvalidParameter.ImageId", 400)


def test_the_other_accounts_own_images_are_its_own(v3: Client, other: Client, admin: httpx.Client) -> None:
    theirs = other.import_image(import_request("theirs")).body.image_id
    assert _listed(other) == {theirs: "self"}
    assert theirs not in _listed(v3)


def test_deleting_a_shared_image_unshares_it_implicitly(
    v3: Client, other: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _share(v3, image_id, add=OTHER_ACCOUNT_ID)
    assert v3.delete_image(ens.DeleteImageRequest(image_id=image_id)).body.code == 0
    assert image_id not in _listed(other) and image_id not in _listed(v3)


# --- the legacy SDK ------------------------------------------------------------------------------


def _legacy_share(emulator: RunningEmulator, image_id: str, add: str = "", remove: str = "") -> None:
    request = ModifyImageSharePermissionRequest()
    request.set_ImageId(image_id)
    if add:
        request.set_AddAccounts(add)
    if remove:
        request.set_RemoveAccounts(remove)
    body = legacy_send(emulator, request)
    assert set(body) == {"RequestId"}


def _legacy_shares(emulator: RunningEmulator, image_id: str, **paging: str) -> dict[str, object]:
    request = DescribeImageSharePermissionRequest()
    request.set_ImageId(image_id)
    for name, value in paging.items():
        request.add_query_param(name, value)
    return legacy_send(emulator, request)


def test_the_legacy_sdk_shares_pages_and_unshares(
    emulator: RunningEmulator, v3: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    _legacy_share(emulator, image_id, add=f"{FIRST},{SECOND}")
    page = _legacy_shares(emulator, image_id, PageSize="1", PageNumber="2")
    assert {k: v for k, v in page.items() if k != "RequestId"} == {
        "ImageId": image_id,
        "PageNumber": 2,
        "PageSize": 1,
        "TotalCount": 2,
        "Accounts": {"Account": [{"AliyunUid": SECOND}]},
    }
    _legacy_share(emulator, image_id, remove=SECOND)
    assert _legacy_shares(emulator, image_id)["Accounts"] == {"Account": [{"AliyunUid": FIRST}]}


def test_the_legacy_sdk_sees_the_documented_error_codes(
    emulator: RunningEmulator, v3: Client, admin: httpx.Client
) -> None:
    image_id = _available_image(v3, admin)
    with pytest.raises(ServerException) as raised:
        _legacy_share(emulator, image_id, add="not-an-account")
    assert (raised.value.get_error_code(), raised.value.get_http_status()) == (
        "InvalidParameter.AddAccounts",
        400,
    )
