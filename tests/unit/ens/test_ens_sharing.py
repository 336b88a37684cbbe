"""Image sharing on the wire: the SDK's parameter names, one account per removal, every page read."""

from __future__ import annotations

from test_ens_client import Recorder, client, ok


async def test_the_share_list_is_read_page_by_page_at_the_largest_page_size() -> None:
    first = [{"AliyunUid": str(1000 + n)} for n in range(100)]
    rec = Recorder(
        ok(TotalCount=101, PageNumber=1, PageSize=100, Accounts={"Account": first}),
        ok(TotalCount=101, PageNumber=2, PageSize=100, Accounts={"Account": [{"AliyunUid": 2000}]}),
    )
    async with client(rec) as ens:
        accounts = [account async for account in ens.iter_share_accounts("m-1")]
    assert len(accounts) == 101 and accounts[-1] == "2000"
    assert [dict(r.url.params) for r in rec.requests] == [
        {"ImageId": "m-1", "PageNumber": "1", "PageSize": "100"},
        {"ImageId": "m-1", "PageNumber": "2", "PageSize": "100"},
    ]


async def test_sharing_sends_add_accounts_comma_separated() -> None:
    rec = Recorder(ok())
    async with client(rec) as ens:
        await ens.share_image("m-1", ["111", "222"])
    assert rec.requests[0].headers["x-acs-action"] == "ModifyImageSharePermission"
    assert dict(rec.requests[0].url.params) == {"ImageId": "m-1", "AddAccounts": "111,222"}


async def test_unsharing_sends_one_account_in_remove_accounts() -> None:
    rec = Recorder(ok())
    async with client(rec) as ens:
        await ens.unshare_image("m-1", "111")
    assert dict(rec.requests[0].url.params) == {"ImageId": "m-1", "RemoveAccounts": "111"}
